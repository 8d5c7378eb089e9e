//! JSON log lines, written straight into the line buffer.
//!
//! [`JsonLines`] formats an event as one JSON object per line, with the same
//! keys and order as `tracing-subscriber`'s JSON format with flattened fields
//! (`timestamp`, `level`, the event's fields with `message` first, `target`,
//! then `spans` when the event is inside any): the request log line is one of
//! these per request. Unlike that formatter it writes each value as it is
//! visited, escaped on the fly, with no timestamp `String`, no detour through
//! `io::Write` (which checks every piece for UTF-8 again) and no per-field
//! allocation; the line goes to the subscriber's reused buffer and out in one
//! write ([`Stderr`]: on a worker, one write for many lines).

mod output;

pub use output::{batch_here, flush_here, Stderr, BATCH_BYTES};

use std::fmt::{self, Write as _};

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::{JsonFields, Writer};

use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

/// The JSON event format; use with [`JsonFields`] for span fields.
#[derive(Debug, Default, Clone, Copy)]
pub struct JsonLines;

impl<S> FormatEvent<S, JsonFields> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, JsonFields>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        // The line is built in a String of this thread's (pushes the
        // compiler can see through, unlike the Writer's), then written at once.
        thread_local! {
            static LINE: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
        }
        LINE.with(|line| match line.try_borrow_mut() {
            Ok(mut line) => {
                line.clear();
                line_of(ctx, event, &mut line)?;
                writer.write_str(&line)
            }
            // An event logged while formatting one (a field's Debug logging).
            Err(_) => {
                let mut line = String::new();
                line_of(ctx, event, &mut line)?;
                writer.write_str(&line)
            }
        })
    }
}

/// One event as a JSON line, appended to `writer`.
fn line_of<S>(
    ctx: &FmtContext<'_, S, JsonFields>,
    event: &Event<'_>,
    writer: &mut String,
) -> fmt::Result
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let meta = event.metadata();
    writer.write_str("{\"timestamp\":\"")?;
    timestamp(writer, std::time::SystemTime::now())?;
    writer.write_str("\",\"level\":\"")?;
    writer.write_str(meta.level().as_str())?;
    writer.write_char('"')?;
    let mut fields = Fields {
        out: writer,
        result: Ok(()),
    };
    event.record(&mut fields);
    fields.result?;
    writer.write_str(",\"target\":")?;
    string(writer, meta.target())?;
    if let Some(scope) = ctx.event_scope() {
        writer.write_str(",\"spans\":[")?;
        for (i, span) in scope.from_root().enumerate() {
            if i > 0 {
                writer.write_char(',')?;
            }
            writer.write_char('{')?;
            let extensions = span.extensions();
            // JsonFields stored the span's fields as a JSON object.
            let inner = extensions
                .get::<FormattedFields<JsonFields>>()
                .map(|f| f.fields.trim())
                .and_then(|f| f.strip_prefix('{')?.strip_suffix('}'))
                .unwrap_or("");
            if !inner.is_empty() {
                writer.write_str(inner)?;
                writer.write_char(',')?;
            }
            writer.write_str("\"name\":")?;
            string(writer, span.name())?;
            writer.write_char('}')?;
        }
        writer.write_char(']')?;
    }
    writer.write_str("}\n")
}

/// Writes each visited field as `,"name":value`.
struct Fields<'a> {
    out: &'a mut String,
    result: fmt::Result,
}

impl Fields<'_> {
    fn entry(&mut self, field: &Field, value: impl FnOnce(&mut String) -> fmt::Result) {
        if self.result.is_ok() {
            self.result = (|| {
                self.out.write_char(',')?;
                string(self.out, field.name())?;
                self.out.write_char(':')?;
                value(self.out)
            })();
        }
    }
}

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.entry(field, |w| string(w, value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.entry(field, |w| digits(w, value, 1));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.entry(field, |w| {
            if value < 0 {
                w.write_char('-')?;
            }
            digits(w, value.unsigned_abs(), 1)
        });
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.entry(field, |w| w.write_str(if value { "true" } else { "false" }));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        // JSON has no NaN or infinity: serde_json writes those as null.
        self.entry(field, |w| {
            if value.is_finite() {
                write!(w, "{value:?}")
            } else {
                w.write_str("null")
            }
        });
    }

    fn record_bytes(&mut self, field: &Field, value: &[u8]) {
        self.entry(field, |w| {
            w.write_char('[')?;
            for (i, b) in value.iter().enumerate() {
                if i > 0 {
                    w.write_char(',')?;
                }
                write!(w, "{b}")?;
            }
            w.write_char(']')
        });
    }

    /// Display (`%value`) and Debug (`?value`) fields, errors, and anything
    /// else: a JSON string of the formatted text, escaped as it is written.
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.entry(field, |w| {
            w.write_char('"')?;
            write!(Escaped(w), "{value:?}")?;
            w.write_char('"')
        });
    }
}

/// `value` in decimal, zero-padded to `width` digits (at most 20).
fn digits(w: &mut impl fmt::Write, mut value: u64, width: usize) -> fmt::Result {
    let mut buf = [b'0'; 20];
    let mut start = buf.len();
    while value > 0 || buf.len() - start < width {
        start -= 1;
        buf[start] = b'0' + (value % 10) as u8;
        value /= 10;
        if start == 0 {
            break;
        }
    }
    // Only ASCII digits were written.
    w.write_str(std::str::from_utf8(&buf[start..]).unwrap_or("?"))
}

/// `at` as RFC 3339 in UTC with microseconds (`2026-12-02T01:09:10.984886Z`),
/// as tracing-subscriber writes it.
fn timestamp(w: &mut impl fmt::Write, at: std::time::SystemTime) -> fmt::Result {
    let since = at.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (days, of_day) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    digits(w, year, 4)?;
    w.write_char('-')?;
    digits(w, month, 2)?;
    w.write_char('-')?;
    digits(w, day, 2)?;
    w.write_char('T')?;
    digits(w, of_day / 3600, 2)?;
    w.write_char(':')?;
    digits(w, of_day / 60 % 60, 2)?;
    w.write_char(':')?;
    digits(w, of_day % 60, 2)?;
    w.write_char('.')?;
    digits(w, u64::from(since.subsec_micros()), 6)?;
    w.write_char('Z')
}

/// A JSON string: quoted and escaped.
fn string(w: &mut String, text: &str) -> fmt::Result {
    w.write_char('"')?;
    Escaped(w).write_str(text)?;
    w.write_char('"')
}

/// Escapes what it is given for the inside of a JSON string, as serde_json
/// does: `"` `\` and control characters; everything else as is.
struct Escaped<'a, W: fmt::Write>(&'a mut W);

/// Whether a byte needs a JSON escape.
fn escaped(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\'
}

/// Whether any byte of `text` needs a JSON escape, eight bytes at a time
/// (exact, by the "has a byte less than n" and "has a zero byte" word
/// tricks); the log line's fields are scanned once each per request.
fn needs_escape(text: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    let less_than = |w: u64, n: u8| w.wrapping_sub(ONES * u64::from(n)) & !w & HIGH != 0;
    let has = |w: u64, b: u8| less_than(w ^ (ONES * u64::from(b)), 1);
    let mut words = text.chunks_exact(8);
    for word in &mut words {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(word);
        let w = u64::from_ne_bytes(bytes);
        if less_than(w, 0x20) || has(w, b'"') || has(w, b'\\') {
            return true;
        }
    }
    words.remainder().iter().any(|&b| escaped(b))
}

impl<W: fmt::Write> fmt::Write for Escaped<'_, W> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        // Most text needs no escape at all: one pass to check, one write.
        if !needs_escape(text.as_bytes()) {
            return self.0.write_str(text);
        }
        let mut plain = 0;
        for (i, b) in text.bytes().enumerate() {
            let escape: &str = match b {
                b'"' => "\\\"",
                b'\\' => "\\\\",
                b'\n' => "\\n",
                b'\r' => "\\r",
                b'\t' => "\\t",
                0x08 => "\\b",
                0x0c => "\\f",
                0x00..=0x1f => "",
                _ => continue,
            };
            self.0.write_str(&text[plain..i])?;
            if escape.is_empty() {
                write!(self.0, "\\u{b:04x}")?;
            } else {
                self.0.write_str(escape)?;
            }
            plain = i + 1;
        }
        self.0.write_str(&text[plain..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn the_word_scan_agrees_with_the_byte_scan(text in proptest::collection::vec(proptest::num::u8::ANY, 0..40)) {
            proptest::prop_assert_eq!(needs_escape(&text), text.iter().any(|&b| escaped(b)));
        }
    }

    #[test]
    fn every_escaped_byte_is_found_at_every_position() {
        for b in 0..=255u8 {
            for at in 0..19 {
                let mut text = vec![b'a'; 19];
                text[at] = b;
                assert_eq!(needs_escape(&text), escaped(b), "byte {b:#x} at {at}");
            }
        }
    }
    use std::io;
    use std::sync::{Arc, Mutex};
    use tracing_subscriber::fmt::MakeWriter;

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Captured {
        type Writer = Captured;
        fn make_writer(&'a self) -> Self::Writer {
            self.clone()
        }
    }

    /// What `log` writes with JsonLines, one line per event.
    fn lines(log: impl FnOnce()) -> Vec<String> {
        let out = Captured::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(out.clone())
            .fmt_fields(JsonFields::new())
            .event_format(JsonLines)
            .with_max_level(tracing::Level::TRACE)
            .finish();
        tracing::subscriber::with_default(subscriber, log);
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        text.lines().map(str::to_owned).collect()
    }

    #[test]
    fn one_json_object_per_line_with_every_kind_of_field() {
        let lines = lines(|| {
            tracing::info!(
                request_id = "abc",
                method = %http::Method::GET,
                status = 200u16,
                took = -3i64,
                ratio = 0.5f64,
                bad = f64::NAN,
                replayed = false,
                debugged = ?Some("x"),
                "request"
            );
        });
        assert_eq!(lines.len(), 1, "{lines:?}");
        let line = &lines[0];
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(v["level"], "INFO");
        assert_eq!(v["message"], "request");
        assert_eq!(v["request_id"], "abc");
        assert_eq!(v["method"], "GET");
        assert_eq!(v["status"], 200);
        assert_eq!(v["took"], -3);
        assert_eq!(v["ratio"], 0.5);
        assert!(v["bad"].is_null());
        assert_eq!(v["replayed"], false);
        assert_eq!(v["debugged"], "Some(\"x\")");
        assert_eq!(v["target"], module_path!());
        // The keys in the order tracing-subscriber's JSON format writes them.
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        let position = |k: &str| line.find(&format!("\"{k}\":")).unwrap();
        assert!(keys.iter().all(|k| line.contains(&format!("\"{k}\":"))));
        assert!(position("timestamp") < position("level"));
        assert!(position("level") < position("message"));
        assert!(position("message") < position("request_id"));
        assert!(position("replayed") < position("target"));
        // RFC 3339 in UTC with microseconds, as before.
        let ts = v["timestamp"].as_str().unwrap();
        assert_eq!(ts.len(), "2026-12-02T01:09:10.984886Z".len(), "{ts}");
        assert!(ts.ends_with('Z') && ts.as_bytes()[10] == b'T', "{ts}");
        assert!(v.get("spans").is_none(), "no span, no list");
    }

    #[test]
    fn timestamps_and_numbers_are_spelled_as_before() {
        use std::time::{Duration, UNIX_EPOCH};
        for (secs, nanos, want) in [
            (0, 0, "1970-01-01T00:00:00.000000Z"),
            (951_794_745, 0, "2000-02-29T03:25:45.000000Z"),
            (1_796_173_750, 984_886_999, "2026-12-02T01:09:10.984886Z"),
            (4_102_444_799, 999_999_000, "2099-12-31T23:59:59.999999Z"),
            (1_709_208_000, 500_000_000, "2024-02-29T12:00:00.500000Z"),
        ] {
            let mut out = String::new();
            timestamp(&mut out, UNIX_EPOCH + Duration::new(secs, nanos)).unwrap();
            assert_eq!(out, want);
        }
        for (value, width, want) in [
            (0, 1, "0"),
            (7, 2, "07"),
            (200, 1, "200"),
            (u64::MAX, 1, "18446744073709551615"),
        ] {
            let mut out = String::new();
            digits(&mut out, value, width).unwrap();
            assert_eq!(out, want);
        }
        let lines = lines(|| tracing::info!(big = u64::MAX, small = i64::MIN, zero = 0u64));
        let v: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
        assert_eq!(v["big"], u64::MAX);
        assert_eq!(v["small"], i64::MIN);
        assert_eq!(v["zero"], 0);
    }

    #[test]
    fn strings_are_escaped_whatever_they_hold() {
        let nasty = "quote \" backslash \\ newline \n tab \t nul \0 bell \x07 del \x7f é ✓";
        let lines = lines(|| {
            tracing::warn!(text = nasty, shown = %nasty, "a \"message\"\nwith lines");
        });
        assert_eq!(
            lines.len(),
            1,
            "one line whatever the fields hold: {lines:?}"
        );
        let v: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
        assert_eq!(v["text"], nasty);
        assert_eq!(v["shown"], nasty);
        assert_eq!(v["message"], "a \"message\"\nwith lines");
        assert_eq!(v["level"], "WARN");
        assert!(lines[0].contains("\\u0000") && lines[0].contains("\\u0007"));
    }

    #[test]
    fn a_field_that_logs_while_formatted_does_not_break_the_line() {
        struct Noisy;
        impl fmt::Debug for Noisy {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                tracing::info!("from inside a field");
                f.write_str("noisy")
            }
        }
        let lines = lines(|| tracing::info!(x = ?Noisy, "outer"));
        let outer: Vec<serde_json::Value> = lines
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .filter(|v: &serde_json::Value| v["message"] == "outer")
            .collect();
        assert_eq!(outer.len(), 1, "{lines:?}");
        assert_eq!(outer[0]["x"], "noisy");
    }

    #[test]
    fn events_in_spans_list_them_from_the_root() {
        let lines = lines(|| {
            let outer = tracing::info_span!("conn", peer = "127.0.0.1:1");
            let _outer = outer.enter();
            let inner = tracing::debug_span!("stream");
            let _inner = inner.enter();
            tracing::error!(code = 7u64, "boom");
        });
        let v: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
        assert_eq!(
            v["spans"],
            serde_json::json!([{"peer": "127.0.0.1:1", "name": "conn"}, {"name": "stream"}])
        );
        assert_eq!(v["code"], 7);
    }
}
