#!/usr/bin/env bash
# Prints the graph of `crate::` paths between the top-level modules of runtime/src (crate
# `micro`) as `a -> b` lines, then every import cycle; exits 1 if there is one.
#
#   scripts/module-cycles.sh            edges and cycles
#   scripts/module-cycles.sh --cycles   cycles only
#
# Comments (doc links included) do not count; `#[cfg(test)]` code does. Root re-exports
# (`crate::Context`) count as the module they come from; lib.rs itself is not a module here.
set -euo pipefail
cd "$(dirname "$0")/../runtime/src"

exec perl -e '
use strict;
use warnings;

my $quiet = @ARGV && $ARGV[0] eq "--cycles";

# The top-level modules: runtime/src/<m>.rs and runtime/src/<m>/.
my %module;
for (glob "*.rs *") {
    next if $_ eq "lib.rs";
    (my $name = $_) =~ s/\.rs$//;
    $module{$name} = 1 if -d $_ || /\.rs$/;
}

# Root re-exports: `pub use client::{Call, Client};` makes `crate::Client` a path into client.
my %reexport;
open my $lib, "<", "lib.rs" or die "lib.rs: $!";
while (<$lib>) {
    next unless /^pub use (\w+)::\{?([^;}]*)\}?;/ && $module{$1};
    my $from = $1;
    $reexport{$_} = $from for map { s/\s+as\s+\w+//r } split /\s*,\s*/, $2;
}

sub target {
    my ($name) = @_;
    return $module{$name} ? $name : $reexport{$name};
}

# The names at depth 0 of a `{a, b::{c, d}, e as f}` group, each with the text after it.
sub group_heads {
    my ($text) = @_;
    my @heads;
    my $depth = 0;
    my $item = "";
    for my $c (split //, $text) {
        if ($c eq "{") { $depth++ }
        if ($c eq "}") { $depth-- }
        if ($c eq "," && $depth == 0) { push @heads, $item; $item = ""; next }
        $item .= $c;
    }
    push @heads, $item;
    return grep { defined } map { /^\s*(\w+)/ ? $1 : undef } @heads;
}

my %edges;
for my $m (sort keys %module) {
    my @files = -d $m ? split /\n/, `find $m -name "*.rs" | sort` : ("$m.rs");
    for my $file (@files) {
        open my $fh, "<", $file or die "$file: $!";
        my $src = do { local $/; <$fh> };
        $src =~ s{/\*.*?\*/}{}gs;                    # block comments
        $src =~ s{"(?:[^"\\]|\\.)*"}{""}gs;          # strings (URLs hold `//`)
        $src =~ s{//[^\n]*}{}g;                      # line and doc comments
        while ($src =~ /\bcrate::(\w+|\{)/g) {
            my @names;
            if ($1 eq "{") {
                my $start = pos($src);
                my $depth = 1;
                my $end = $start;
                while ($depth > 0 && $end < length $src) {
                    my $c = substr($src, $end++, 1);
                    $depth++ if $c eq "{";
                    $depth-- if $c eq "}";
                }
                @names = group_heads(substr($src, $start, $end - $start - 1));
            } else {
                @names = ($1);
            }
            for (@names) {
                my $to = target($_);
                $edges{$m}{$to}++ if defined $to && $to ne $m;
            }
        }
    }
}

unless ($quiet) {
    for my $from (sort keys %edges) {
        print "$from -> $_\n" for sort keys %{ $edges{$from} };
    }
}

# Strongly connected components (Tarjan); one with two or more modules holds a cycle.
my ($index, %idx, %low, %on, @stack, @components) = (0);
sub visit {
    my ($v) = @_;
    $idx{$v} = $low{$v} = $index++;
    push @stack, $v;
    $on{$v} = 1;
    for my $w (sort keys %{ $edges{$v} || {} }) {
        if (!exists $idx{$w}) {
            visit($w);
            $low{$v} = $low{$w} if $low{$w} < $low{$v};
        } elsif ($on{$w}) {
            $low{$v} = $idx{$w} if $idx{$w} < $low{$v};
        }
    }
    if ($low{$v} == $idx{$v}) {
        my @component;
        while (1) {
            my $w = pop @stack;
            $on{$w} = 0;
            push @component, $w;
            last if $w eq $v;
        }
        push @components, [sort @component] if @component > 1;
    }
}
visit($_) for grep { !exists $idx{$_} } sort keys %module;

# One shortest cycle through each edge inside a component, so every knot is named.
sub path {
    my ($from, $to, $inside) = @_;
    my %prev = ($from => undef);
    my @queue = ($from);
    while (@queue) {
        my $v = shift @queue;
        return do { my @p = ($v); unshift @p, $v = $prev{$v} while defined $prev{$v}; @p }
            if $v eq $to;
        for my $w (sort keys %{ $edges{$v} || {} }) {
            next if exists $prev{$w} || !$inside->{$w};
            $prev{$w} = $v;
            push @queue, $w;
        }
    }
    return;
}

my %seen;
my $cycles = 0;
for my $component (@components) {
    my %inside = map { $_ => 1 } @$component;
    print "\n" unless $quiet;
    print "cycle among: @$component\n";
    for my $from (@$component) {
        for my $to (sort grep { $inside{$_} } keys %{ $edges{$from} || {} }) {
            my @back = path($to, $from, \%inside) or next;
            my @cycle = ($from, @back);
            # Name each cycle once, starting from its smallest module.
            my @rest = @cycle[0 .. $#cycle - 1];
            my ($min) = sort { $rest[$a] cmp $rest[$b] } 0 .. $#rest;
            my $key = join " -> ", @rest[$min .. $#rest], @rest[0 .. $min];
            next if $seen{$key}++;
            print "  $key\n";
            $cycles++;
        }
    }
}
if ($cycles) {
    print STDERR "module-cycles: $cycles import cycle(s) between top-level modules\n";
    exit 1;
}
print "no cycles\n" unless $quiet;
'  -- "$@"
