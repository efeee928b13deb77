//! Cleaning a serial log: OVMF and iPXE draw their consoles with terminal
//! escape sequences, which make grepping the log unreliable.

/// Removes ANSI/VT100 escape sequences (CSI `ESC [ … final`, OSC
/// `ESC ] … BEL|ESC \`, and two-byte `ESC x`) and carriage returns.
pub fn strip_ansi(raw: &[u8]) -> String {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            0x1b => i = skip_escape(raw, i + 1),
            b'\r' => i += 1,
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Index just after the escape sequence whose introducer byte is at `i`.
fn skip_escape(raw: &[u8], i: usize) -> usize {
    match raw.get(i) {
        Some(b'[') => {
            // Parameters and intermediates, then one final byte in 0x40..=0x7e.
            let mut j = i + 1;
            while j < raw.len() && !(0x40..=0x7e).contains(&raw[j]) {
                j += 1;
            }
            (j + 1).min(raw.len())
        }
        Some(b']') => {
            let mut j = i + 1;
            while j < raw.len() {
                if raw[j] == 0x07 {
                    return j + 1;
                }
                if raw[j] == 0x1b && raw.get(j + 1) == Some(&b'\\') {
                    return j + 2;
                }
                j += 1;
            }
            raw.len()
        }
        // `ESC (`-style charset selections carry one more byte.
        Some(b'(' | b')') => (i + 2).min(raw.len()),
        Some(_) => i + 1,
        None => i,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_csi_osc_and_carriage_returns() {
        let raw = b"\x1b[2J\x1b[01;01H\x1b[=3h\x1b[0m\x1b[37m\x1b[40miPXE 1.21\r\n\
                    \x1b]0;title\x07ok\x1b(Bdone\x1bc";
        assert_eq!(strip_ansi(raw), "iPXE 1.21\nokdone");
    }

    #[test]
    fn truncated_sequence_at_end_is_dropped() {
        assert_eq!(strip_ansi(b"text\x1b[1;3"), "text");
        assert_eq!(strip_ansi(b"text\x1b"), "text");
    }

    #[test]
    fn plain_text_is_untouched() {
        assert_eq!(
            strip_ansi("MARKER key=dmFsdWU= ü\n".as_bytes()),
            "MARKER key=dmFsdWU= ü\n"
        );
    }
}
