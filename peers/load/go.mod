module github.com/micro-rs/micro-rs/peers/load

go 1.26.0
