//! The keeper protocol: the lines hot and its keeper (`hot __shim`, see `keeper`) exchange
//! over the status socket. Each direction is one enum; this module alone writes and reads
//! them, so a new message is a variant, an `encode` arm and a `parse` arm here.
//!
//! One message per line, ASCII words separated by one space, ended by `\n`:
//!
//! | direction    | line                  | meaning                                      |
//! |--------------|-----------------------|----------------------------------------------|
//! | keeper → hot | `started PID`         | the command runs, with this pid              |
//! | keeper → hot | `stopped SIGNAL PID`  | the command was stopped (SIGSTOP, SIGTTIN...) |
//! | keeper → hot | `ended MICROSECONDS`  | the command exited after running this long   |
//! | hot → keeper | `stop SIGNAL TIMEOUT_MS` | stop the command (`KillMode=mixed`)       |
//!
//! Signals are the platform's numbers: both ends run on the same machine.
//!
//! A spare keeper (`hot __shim --spare`, started before hot knows what it will run) first
//! gets one [`Launch`]: not a line, since paths and values may hold any byte but NUL. It is
//! `launch LEN\n` (LEN: ten decimal digits, so the header has a fixed size and the spare reads
//! exactly it and then exactly LEN bytes, leaving what follows, the sockets' message and
//! orders, in the socket) and LEN bytes of NUL-ended fields: the working directory, the
//! number of environment variables, each one's name and value, then the arguments of
//! `hot __shim` (everything after `__shim`).

use std::ffi::OsString;
use std::fmt;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::time::Duration;

/// What the keeper tells hot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Report {
    /// The command runs with this pid (the group's leader is the keeper, not it).
    Started { pid: u32 },
    /// The command was stopped by this signal.
    Stopped { signal: i32, pid: u32 },
    /// The command exited after running this long (measured by the keeper, which runs on
    /// while hot is stopped).
    Ended { ran: Duration },
}

/// What hot tells the keeper.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Order {
    /// Send `signal` to the command alone, the rest once it has exited, SIGKILL to what is
    /// left after `timeout`.
    Stop { signal: i32, timeout: Duration },
}

/// What a spare keeper runs: everything that belongs to the instance, sent when it starts,
/// so a spare started before a reload or a change of the Hotfile's `env` runs nothing stale.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Launch {
    /// The command's working directory.
    pub dir: OsString,
    /// The command's whole environment (the spare's own is replaced by it).
    pub env: Vec<(OsString, OsString)>,
    /// The arguments after `__shim` (`ShimArgs::to_args`, without `--status`).
    pub args: Vec<OsString>,
}

impl Launch {
    /// The fixed size of the header, `launch LEN\n`.
    pub(crate) const HEADER: usize = "launch ".len() + 10 + 1;
    /// Most bytes a launch may carry (Linux allows 32 pages per string, and argv and the
    /// environment together a quarter of the stack limit): a header past it is no launch.
    pub(crate) const MAX: usize = 64 << 20;

    /// The message, header included.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut body = Vec::new();
        let mut field = |bytes: &[u8]| {
            body.extend_from_slice(bytes);
            body.push(0);
        };
        field(self.dir.as_bytes());
        field(self.env.len().to_string().as_bytes());
        for (key, value) in &self.env {
            field(key.as_bytes());
            field(value.as_bytes());
        }
        for arg in &self.args {
            field(arg.as_bytes());
        }
        let mut message = format!("launch {:010}\n", body.len()).into_bytes();
        message.extend_from_slice(&body);
        message
    }

    /// The length of the body that follows `header` (exactly [`Launch::HEADER`] bytes).
    pub(crate) fn body_len(header: &[u8]) -> Result<usize, ParseError> {
        let error = |why| ParseError {
            line: String::from_utf8_lossy(header).into_owned(),
            why,
        };
        let digits = header
            .strip_prefix(b"launch ")
            .and_then(|rest| rest.strip_suffix(b"\n"))
            .ok_or(error(Malformed::UnknownKind))?;
        std::str::from_utf8(digits)
            .ok()
            .filter(|d| d.len() == 10 && d.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|d| d.parse().ok())
            .filter(|len| *len <= Launch::MAX)
            .ok_or(error(Malformed::BadNumber))
    }

    /// Reads the body (the bytes after the header).
    pub(crate) fn parse(body: &[u8]) -> Result<Launch, ParseError> {
        let error = |why| ParseError {
            line: String::from_utf8_lossy(&body[..body.len().min(80)]).into_owned(),
            why,
        };
        let fields = body
            .strip_suffix(&[0])
            .ok_or(error(Malformed::TrailingWords))?;
        let mut fields = fields
            .split(|b| *b == 0)
            .map(|f| OsString::from_vec(f.to_vec()));
        let dir = fields.next().ok_or(error(Malformed::BadNumber))?;
        let count: usize = fields
            .next()
            .and_then(|c| c.to_str()?.parse().ok())
            .ok_or(error(Malformed::BadNumber))?;
        let mut env = Vec::with_capacity(count.min(4096));
        for _ in 0..count {
            match (fields.next(), fields.next()) {
                (Some(key), Some(value)) => env.push((key, value)),
                _ => return Err(error(Malformed::BadNumber)),
            }
        }
        Ok(Launch {
            dir,
            env,
            args: fields.collect(),
        })
    }
}

/// A line that is no message of the protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ParseError {
    /// The line, as received (lossily decoded).
    pub line: String,
    pub why: Malformed,
}

/// Why a line is no message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Malformed {
    /// The first word names no message.
    UnknownKind,
    /// A number is missing or is not a number.
    BadNumber,
    /// Words follow the message's last number.
    TrailingWords,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let why = match self.why {
            Malformed::UnknownKind => "unknown message",
            Malformed::BadNumber => "a number is missing or malformed",
            Malformed::TrailingWords => "unexpected words at its end",
        };
        write!(f, "keeper protocol: {why} in {:?}", self.line)
    }
}

impl std::error::Error for ParseError {}

impl Report {
    /// The line, `\n` included.
    pub(crate) fn encode(&self) -> String {
        match self {
            Report::Started { pid } => format!("started {pid}\n"),
            Report::Stopped { signal, pid } => format!("stopped {signal} {pid}\n"),
            Report::Ended { ran } => format!("ended {}\n", ran.as_micros()),
        }
    }

    /// Reads one line (with or without its `\n`).
    pub(crate) fn parse(line: &str) -> Result<Report, ParseError> {
        let mut words = Words::new(line);
        let report = match words.kind() {
            "started" => Report::Started {
                pid: words.number()?,
            },
            "stopped" => Report::Stopped {
                signal: words.number()?,
                pid: words.number()?,
            },
            "ended" => Report::Ended {
                ran: Duration::from_micros(words.number()?),
            },
            _ => return Err(words.error(Malformed::UnknownKind)),
        };
        words.end()?;
        Ok(report)
    }
}

impl Order {
    /// The line, `\n` included.
    pub(crate) fn encode(&self) -> String {
        match self {
            Order::Stop { signal, timeout } => format!("stop {signal} {}\n", timeout.as_millis()),
        }
    }

    /// Reads one line (with or without its `\n`).
    pub(crate) fn parse(line: &str) -> Result<Order, ParseError> {
        let mut words = Words::new(line);
        let order = match words.kind() {
            "stop" => Order::Stop {
                signal: words.number()?,
                timeout: Duration::from_millis(words.number()?),
            },
            _ => return Err(words.error(Malformed::UnknownKind)),
        };
        words.end()?;
        Ok(order)
    }
}

/// A line's words, for `parse`.
struct Words<'a> {
    line: &'a str,
    words: std::str::Split<'a, char>,
}

impl<'a> Words<'a> {
    fn new(line: &'a str) -> Self {
        let line = line.trim();
        Words {
            line,
            words: line.split(' '),
        }
    }

    fn kind(&mut self) -> &'a str {
        self.words.next().unwrap_or("")
    }

    fn number<T: std::str::FromStr>(&mut self) -> Result<T, ParseError> {
        self.words
            .next()
            .and_then(|w| w.parse().ok())
            .ok_or_else(|| self.error(Malformed::BadNumber))
    }

    fn end(&mut self) -> Result<(), ParseError> {
        match self.words.next() {
            None => Ok(()),
            Some(_) => Err(self.error(Malformed::TrailingWords)),
        }
    }

    fn error(&self, why: Malformed) -> ParseError {
        ParseError {
            line: self.line.to_owned(),
            why,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_report_round_trips() {
        let reports = [
            Report::Started { pid: 4242 },
            Report::Started { pid: u32::MAX },
            Report::Stopped { signal: 19, pid: 7 },
            Report::Stopped { signal: 21, pid: 1 },
            Report::Ended {
                ran: Duration::ZERO,
            },
            Report::Ended {
                ran: Duration::from_micros(1_234_567),
            },
        ];
        for report in reports {
            let line = report.encode();
            assert!(
                line.ends_with('\n') && line.matches('\n').count() == 1,
                "{line:?}"
            );
            assert_eq!(Report::parse(&line), Ok(report), "{line:?}");
            // As `lines()` hands them over, without the newline.
            assert_eq!(Report::parse(line.trim_end()), Ok(report), "{line:?}");
        }
    }

    #[test]
    fn every_order_round_trips() {
        let orders = [
            Order::Stop {
                signal: 15,
                timeout: Duration::from_millis(5000),
            },
            Order::Stop {
                signal: 2,
                timeout: Duration::ZERO,
            },
            Order::Stop {
                signal: 1,
                timeout: Duration::from_millis(u64::MAX),
            },
        ];
        for order in orders {
            let line = order.encode();
            assert!(
                line.ends_with('\n') && line.matches('\n').count() == 1,
                "{line:?}"
            );
            assert_eq!(Order::parse(&line), Ok(order), "{line:?}");
        }
    }

    /// The wire format itself, which an older or newer keeper on the other end also speaks.
    #[test]
    fn lines_are_as_documented() {
        assert_eq!(Report::Started { pid: 12 }.encode(), "started 12\n");
        assert_eq!(
            Report::Stopped {
                signal: 19,
                pid: 12
            }
            .encode(),
            "stopped 19 12\n"
        );
        assert_eq!(
            Report::Ended {
                ran: Duration::from_millis(3)
            }
            .encode(),
            "ended 3000\n"
        );
        let stop = Order::Stop {
            signal: 15,
            timeout: Duration::from_secs(2),
        };
        assert_eq!(stop.encode(), "stop 15 2000\n");
    }

    #[test]
    fn a_launch_round_trips_with_any_bytes_but_nul() {
        let launch = Launch {
            dir: "/a dir/with\nline".into(),
            env: vec![
                ("PATH".into(), "/bin:/usr/bin".into()),
                ("EMPTY".into(), "".into()),
                ("X".into(), OsString::from_vec(vec![0xff, b'=', b'\n'])),
            ],
            args: vec![
                "--socket".into(),
                "http".into(),
                "--".into(),
                "./app".into(),
            ],
        };
        let bytes = launch.encode();
        let (header, body) = bytes.split_at(Launch::HEADER);
        assert_eq!(header, format!("launch {:010}\n", body.len()).as_bytes());
        assert_eq!(Launch::body_len(header), Ok(body.len()));
        assert_eq!(Launch::parse(body), Ok(launch));
        let bare = Launch {
            dir: "/".into(),
            env: vec![],
            args: vec![],
        };
        let bytes = bare.encode();
        assert_eq!(Launch::parse(&bytes[Launch::HEADER..]), Ok(bare));
    }

    #[test]
    fn a_malformed_launch_is_an_error() {
        for header in [
            &b"launch 12\n"[..],
            b"lunch 0000000012\n",
            b"launch 000000001x\n",
            b"launch 9999999999\n",
        ] {
            assert!(Launch::body_len(header).is_err(), "{header:?}");
        }
        for body in [
            &b""[..],
            b"/\0",
            b"/\0two\0",
            b"/\x002\0K\0V\0",
            b"/\x000\0x",
        ] {
            assert!(Launch::parse(body).is_err(), "{body:?}");
        }
    }

    #[test]
    fn malformed_lines_are_typed_errors() {
        let reports = [
            ("", Malformed::UnknownKind),
            ("\n", Malformed::UnknownKind),
            ("begun 12", Malformed::UnknownKind),
            ("stop 15 100", Malformed::UnknownKind),
            ("started", Malformed::BadNumber),
            ("started x", Malformed::BadNumber),
            ("started -1", Malformed::BadNumber),
            ("started 99999999999999999999", Malformed::BadNumber),
            ("started  12", Malformed::BadNumber),
            ("stopped 19", Malformed::BadNumber),
            ("stopped nineteen 12", Malformed::BadNumber),
            ("ended 1.5", Malformed::BadNumber),
            ("started 12 13", Malformed::TrailingWords),
            ("ended 1 2", Malformed::TrailingWords),
            ("stopped 19 12 0", Malformed::TrailingWords),
        ];
        for (line, why) in reports {
            let error = Report::parse(line).expect_err(line);
            assert_eq!(error.why, why, "{line:?}");
            assert!(error.to_string().contains("keeper protocol"), "{error}");
        }
        let orders = [
            ("started 12", Malformed::UnknownKind),
            ("STOP 15 100", Malformed::UnknownKind),
            ("stop", Malformed::BadNumber),
            ("stop 15", Malformed::BadNumber),
            ("stop TERM 100", Malformed::BadNumber),
            ("stop 15 -1", Malformed::BadNumber),
            ("stop 15 100 7", Malformed::TrailingWords),
        ];
        for (line, why) in orders {
            assert_eq!(Order::parse(line).expect_err(line).why, why, "{line:?}");
        }
    }
}
