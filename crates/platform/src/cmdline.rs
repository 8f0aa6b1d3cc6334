//! Kernel command-line parsing.
//!
//! The command line is a list of words separated by ASCII whitespace. A word
//! is either `key=value` or a bare `flag`. Double quotes group whitespace
//! into one word: `init="/bin/sh -c x"` (quoted value) and
//! `"init=/bin/sh -c x"` (quoted word) both give `init` the value
//! `/bin/sh -c x`. Quotes are not escapes: there is no way to put a `"`
//! inside a quoted value. An unterminated quote runs to the end of the line.
//! Words after a lone `--` are not kernel parameters (see
//! [`Cmdline::init_args`]). When a key appears more than once the last
//! value wins. Keys the kernel uses: `log=`, `test=`, `init=`.
//!
//! Nothing here allocates; values borrow from the command line.

use core::fmt;
use core::str::FromStr;

/// A parsed kernel command line borrowing from the original string.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cmdline<'a> {
    params: &'a str,
    init_args: &'a str,
}

/// One word of a command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Word<'a> {
    /// `key=value` (quotes around the value or the whole word removed).
    Param(&'a str, &'a str),
    /// A bare word without `=`.
    Flag(&'a str),
}

/// Splits off the next word: returns (word, rest), skipping leading spaces.
fn next_word(s: &str) -> Option<(&str, &str)> {
    let s = s.trim_start_matches(|c: char| c.is_ascii_whitespace());
    if s.is_empty() {
        return None;
    }
    let mut in_quote = false;
    for (i, c) in s.char_indices() {
        if c == '"' {
            in_quote = !in_quote;
        } else if c.is_ascii_whitespace() && !in_quote {
            return Some((&s[..i], &s[i..]));
        }
    }
    Some((s, ""))
}

/// Removes one pair of surrounding quotes, or a lone leading quote (an
/// unterminated one).
fn unquote(s: &str) -> &str {
    match s.strip_prefix('"') {
        Some(inner) => inner.strip_suffix('"').unwrap_or(inner),
        None => s,
    }
}

fn classify(word: &str) -> Word<'_> {
    let w = if word.starts_with('"') {
        unquote(word)
    } else {
        word
    };
    match w.split_once('=') {
        Some((k, v)) => Word::Param(k, unquote(v)),
        None => Word::Flag(w),
    }
}

/// Iterator over the [`Word`]s of a [`Cmdline`].
#[derive(Clone, Debug)]
pub struct Words<'a> {
    rest: &'a str,
}

impl<'a> Iterator for Words<'a> {
    type Item = Word<'a>;
    fn next(&mut self) -> Option<Word<'a>> {
        let (w, rest) = next_word(self.rest)?;
        self.rest = rest;
        Some(classify(w))
    }
}

impl<'a> Cmdline<'a> {
    /// Parses `s`. Never fails: every string is some command line.
    pub fn parse(s: &'a str) -> Self {
        // Find a lone `--` word outside quotes.
        let mut rest = s;
        while let Some((w, r)) = next_word(rest) {
            if w == "--" {
                let params = &s[..s.len() - r.len() - w.len()];
                let init_args = r.trim_matches(|c: char| c.is_ascii_whitespace());
                return Cmdline { params, init_args };
            }
            rest = r;
        }
        Cmdline {
            params: s,
            init_args: "",
        }
    }

    /// The words before any `--`, in order.
    pub fn words(&self) -> Words<'a> {
        Words { rest: self.params }
    }

    /// The value of the last `key=value` word, unquoted.
    pub fn get(&self, key: &str) -> Option<&'a str> {
        self.words()
            .filter_map(|w| match w {
                Word::Param(k, v) if k == key => Some(v),
                _ => None,
            })
            .last()
    }

    /// Whether the bare word `key` is present.
    pub fn flag(&self, key: &str) -> bool {
        self.words().any(|w| w == Word::Flag(key))
    }

    /// Everything after a lone `--` word (arguments for init), trimmed;
    /// empty if there is none.
    pub fn init_args(&self) -> &'a str {
        self.init_args
    }

    /// The `log=` level: `None` if absent, `Some(Err(..))` if unparseable.
    pub fn log_level(&self) -> Option<Result<LogLevel, ParseLogLevelError>> {
        self.get("log").map(LogLevel::from_str)
    }
}

/// Kernel log verbosity, ordered from least (`Error`) to most (`Debug`)
/// verbose, so `level >= LogLevel::Info` means "Info messages are shown".
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogLevel {
    /// Only errors.
    Error,
    /// Errors and warnings.
    Warn,
    /// Normal informative output.
    Info,
    /// Everything.
    Debug,
}

impl LogLevel {
    /// Lower-case name, as accepted by `from_str`.
    pub const fn as_str(self) -> &'static str {
        match self {
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
        }
    }
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Error from parsing a [`LogLevel`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParseLogLevelError;

impl fmt::Display for ParseLogLevelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("log level must be error, warn, info or debug")
    }
}

impl FromStr for LogLevel {
    type Err = ParseLogLevelError;

    /// Accepts `error`, `warn` (or `warning`), `info`, `debug`, in any case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let eq = |name: &str| s.eq_ignore_ascii_case(name);
        if eq("error") {
            Ok(LogLevel::Error)
        } else if eq("warn") || eq("warning") {
            Ok(LogLevel::Warn)
        } else if eq("info") {
            Ok(LogLevel::Info)
        } else if eq("debug") {
            Ok(LogLevel::Debug)
        } else {
            Err(ParseLogLevelError)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    #[test]
    fn basics() {
        let c =
            Cmdline::parse("  console=ttyS0 log=debug quiet test=nr_log  init=\"/bin/sh -c x\" ");
        assert_eq!(c.get("console"), Some("ttyS0"));
        assert_eq!(c.get("log"), Some("debug"));
        assert_eq!(c.get("test"), Some("nr_log"));
        assert_eq!(c.get("init"), Some("/bin/sh -c x"));
        assert_eq!(c.get("quiet"), None);
        assert_eq!(c.get("missing"), None);
        assert!(c.flag("quiet"));
        assert!(!c.flag("log"));
        assert!(!c.flag("qui"));
        assert_eq!(c.log_level(), Some(Ok(LogLevel::Debug)));
        assert_eq!(c.init_args(), "");
    }

    #[test]
    fn quoting_and_edge_cases() {
        let c = Cmdline::parse("\"init=/bin/echo a b\" x= =y a=b=c log=\"info\" u=\"open ended");
        assert_eq!(c.get("init"), Some("/bin/echo a b"));
        assert_eq!(c.get("x"), Some(""));
        assert_eq!(c.get(""), Some("y"));
        assert_eq!(c.get("a"), Some("b=c"));
        assert_eq!(c.get("log"), Some("info"));
        assert_eq!(c.get("u"), Some("open ended"));
        let c = Cmdline::parse("log=warn log=error\tfoo\n\"bar\" \"");
        assert_eq!(c.get("log"), Some("error"));
        assert!(c.flag("foo") && c.flag("bar") && c.flag(""));
        assert_eq!(Cmdline::parse("").words().count(), 0);
        assert_eq!(Cmdline::parse("   \t ").words().count(), 0);
        assert_eq!(
            Cmdline::parse("log=verbose").log_level(),
            Some(Err(ParseLogLevelError))
        );
        assert_eq!(Cmdline::parse("ünï=cödé").get("ünï"), Some("cödé"));
    }

    #[test]
    fn init_args() {
        let c = Cmdline::parse("log=info init=/bin/sh -- -c \"echo hi\" log=debug ");
        assert_eq!(c.get("log"), Some("info"));
        assert_eq!(c.init_args(), "-c \"echo hi\" log=debug");
        let c = Cmdline::parse("a=\"x -- y\" --x --");
        assert_eq!(c.get("a"), Some("x -- y"));
        assert!(c.flag("--x"));
        assert_eq!(c.init_args(), "");
        let words: Vec<Word<'_>> = c.words().collect();
        assert_eq!(words, [Word::Param("a", "x -- y"), Word::Flag("--x")]);
    }

    #[test]
    fn log_levels() {
        assert_eq!("ERROR".parse(), Ok(LogLevel::Error));
        assert_eq!("warning".parse(), Ok(LogLevel::Warn));
        assert_eq!("Warn".parse(), Ok(LogLevel::Warn));
        assert_eq!("info".parse(), Ok(LogLevel::Info));
        assert_eq!("debug".parse(), Ok(LogLevel::Debug));
        assert_eq!("".parse::<LogLevel>(), Err(ParseLogLevelError));
        assert!(LogLevel::Debug > LogLevel::Info && LogLevel::Warn > LogLevel::Error);
        for l in [
            LogLevel::Error,
            LogLevel::Warn,
            LogLevel::Info,
            LogLevel::Debug,
        ] {
            assert_eq!(l.as_str().parse(), Ok(l));
        }
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

            #[test]
            fn never_panics(s in "\\PC{0,60}", k in "[a-z\"=]{0,3}") {
                let c = Cmdline::parse(&s);
                let _ = c.get(&k);
                let _ = c.flag(&k);
                let _ = c.words().count();
                let _ = c.init_args();
            }

            /// Joined `key=value` words read back; last value wins.
            #[test]
            fn roundtrip(pairs in proptest::collection::vec(("[a-e]{1,2}", "[a-z/ .-]{0,8}", any::<bool>()), 0..8)) {
                let mut line = std::string::String::new();
                for (k, v, quote_word) in &pairs {
                    if *quote_word {
                        line += &std::format!("\"{k}={v}\" ");
                    } else {
                        line += &std::format!("{k}=\"{v}\" ");
                    }
                }
                let c = Cmdline::parse(&line);
                for (k, _, _) in &pairs {
                    let last = pairs.iter().rev().find(|(k2, _, _)| k2 == k).map(|(_, v, _)| v.as_str());
                    prop_assert_eq!(c.get(k), last);
                }
                prop_assert_eq!(c.words().count(), pairs.len());
            }
        }
    }
}
