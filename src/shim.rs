//! The exec step between hot and a service: places the sockets and sets `LISTEN_PID`.
