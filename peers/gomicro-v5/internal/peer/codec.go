package peer

import (
	"google.golang.org/grpc/encoding"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/protoadapt"
)

// KeepEtcdWorking makes grpc-go's "proto" codec accept etcd's messages again. go-micro's
// gRPC client and server packages replace that process-wide codec with their own, which
// rejects the gogo-generated messages of etcd's client ("grpc: error while marshaling:
// invalid message"), so a process with both the gRPC plugin and the etcd registry cannot
// reach etcd. This keeps go-micro's codec and falls back to protobuf's adapter for what it
// rejects. Call it first thing in main, after every package registered its codecs.
func KeepEtcdWorking() {
	if current := encoding.GetCodec("proto"); current != nil {
		encoding.RegisterCodec(fallbackCodec{current})
	}
}

type fallbackCodec struct{ encoding.Codec }

func (c fallbackCodec) Marshal(v interface{}) ([]byte, error) {
	out, err := c.Codec.Marshal(v)
	if m, ok := v.(protoadapt.MessageV1); err != nil && ok {
		return proto.Marshal(protoadapt.MessageV2Of(m))
	}
	return out, err
}

func (c fallbackCodec) Unmarshal(data []byte, v interface{}) error {
	err := c.Codec.Unmarshal(data, v)
	if m, ok := v.(protoadapt.MessageV1); err != nil && ok {
		return proto.Unmarshal(data, protoadapt.MessageV2Of(m))
	}
	return err
}
