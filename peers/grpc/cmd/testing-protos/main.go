// Command testing-protos writes gRPC's interop protos (grpc/testing/test.proto and
// the files it imports) as .proto source, printed from the descriptors that
// grpc-go's generated package google.golang.org/grpc/interop/grpc_testing registers.
//
// Usage: testing-protos OUT_DIR   (writes OUT_DIR/grpc/testing/*.proto)
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/jhump/protoreflect/v2/protoprint"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"

	"google.golang.org/grpc/interop/grpc_testing"
)

// root is the file whose import closure is printed.
const root = "grpc/testing/test.proto"

// header opens every printed file.
var header = []string{
	" Extracted from google.golang.org/grpc v1.85.0 interop/grpc_testing by",
	" peers/grpc/cmd/testing-protos. Licensed under the Apache License 2.0 (see",
	" LICENSE). Do not edit: regenerate with `go run ./cmd/testing-protos",
	" ../../interop/proto` in peers/grpc.",
}

// syntaxPath is the FileDescriptorProto path of the `syntax` statement.
var syntaxPath = []int32{12}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: testing-protos OUT_DIR")
		os.Exit(2)
	}
	if err := run(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "testing-protos:", err)
		os.Exit(1)
	}
}

// run prints the import closure of root into outDir.
func run(outDir string) error {
	// Reference the package so its descriptors are registered.
	_ = grpc_testing.File_grpc_testing_test_proto
	files, err := closure(root)
	if err != nil {
		return err
	}
	for _, fd := range files {
		if err := write(outDir, fd); err != nil {
			return err
		}
	}
	return nil
}

// closure returns path and the registered files it imports, transitively,
// leaving out google/protobuf's well-known types (protoc ships those).
func closure(path string) ([]protoreflect.FileDescriptor, error) {
	var out []protoreflect.FileDescriptor
	seen := map[string]bool{}
	var visit func(string) error
	visit = func(p string) error {
		if seen[p] || strings.HasPrefix(p, "google/protobuf/") {
			return nil
		}
		seen[p] = true
		fd, err := protoregistry.GlobalFiles.FindFileByPath(p)
		if err != nil {
			return fmt.Errorf("%s is not registered by grpc_testing: %w", p, err)
		}
		out = append(out, fd)
		imports := fd.Imports()
		for i := 0; i < imports.Len(); i++ {
			if err := visit(imports.Get(i).Path()); err != nil {
				return err
			}
		}
		return nil
	}
	return out, visit(path)
}

// write prints fd, headed by the extraction notice, to outDir/<fd.Path()>.
func write(outDir string, fd protoreflect.FileDescriptor) error {
	headed, err := withHeader(fd)
	if err != nil {
		return err
	}
	dest := filepath.Join(outDir, filepath.FromSlash(fd.Path()))
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return err
	}
	f, err := os.Create(dest)
	if err != nil {
		return err
	}
	printer := protoprint.Printer{Indent: "  "}
	if err := printer.PrintProtoFile(headed, f); err != nil {
		f.Close()
		return fmt.Errorf("printing %s: %w", fd.Path(), err)
	}
	return f.Close()
}

// withHeader rebuilds fd with the notice as a detached comment above `syntax`.
func withHeader(fd protoreflect.FileDescriptor) (protoreflect.FileDescriptor, error) {
	fdp := protodesc.ToFileDescriptorProto(fd)
	fdp.SourceCodeInfo = &descriptorpb.SourceCodeInfo{
		Location: []*descriptorpb.SourceCodeInfo_Location{{
			Path:                    syntaxPath,
			Span:                    []int32{len32(header), 0, 18},
			LeadingDetachedComments: []string{strings.Join(header, "\n") + "\n"},
		}},
	}
	headed, err := protodesc.NewFile(fdp, protoregistry.GlobalFiles)
	if err != nil {
		return nil, fmt.Errorf("rebuilding %s: %w", fd.Path(), err)
	}
	return headed, nil
}

// len32 is len(s) as an int32 line number.
func len32(s []string) int32 { return int32(len(s)) }
