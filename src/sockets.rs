//! Listening sockets that hot binds once and hands to every service instance.
