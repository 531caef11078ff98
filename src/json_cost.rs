//! What a JSON text will cost in memory once parsed into `serde_json::Value`, estimated in one
//! pass over its bytes, before parsing. A peer's reply under the size cap can still be made of
//! millions of tiny elements (`[0,0,0,...]`), each a whole `Value` (72 bytes with
//! `preserve_order`) for two bytes of text: parsed, 16 MiB of such text takes over a gigabyte.
//! [`check`] refuses a text whose parsed size would pass [`PARSED_PER_CAP`] times the cap, so the
//! memory of an accepted reply stays a small multiple of the cap, whatever its shape.

/// How many times the size cap the parsed form of a reply may take. Text (strings, the bulk of
/// real replies) parses to about its own size; only dense runs of tiny elements come near this.
pub const PARSED_PER_CAP: u64 = 2;

/// What the allocator adds to each string's bytes (its header, rounding up to 16).
const STRING_OVERHEAD: u64 = 24;

/// Nesting beyond this is refused by serde_json anyway; it bounds the worst case below.
const MAX_DEPTH: u64 = 128;

/// A text whose parsed form would be too big for its cap.
#[derive(Debug, Clone, PartialEq)]
pub struct TooCostly {
    pub size: u64,
    pub values: u64,
    pub parsed: u64,
    pub cap: usize,
}

impl TooCostly {
    pub fn describe(&self) -> String {
        use crate::mcp::human_bytes;
        format!(
            "reply of {} would take about {} once parsed ({} JSON values), over the {} allowed by the {} cap",
            human_bytes(self.size),
            human_bytes(self.parsed),
            self.values,
            human_bytes(bound(self.cap)),
            human_bytes(self.cap as u64)
        )
    }
}

fn bound(cap: usize) -> u64 {
    (cap as u64).saturating_mul(PARSED_PER_CAP)
}

fn value_bytes() -> u64 {
    std::mem::size_of::<serde_json::Value>() as u64
}

/// Refuse `text` when its parsed size would pass [`PARSED_PER_CAP`] times `cap`. Texts too
/// short to reach the bound in any shape are not scanned.
pub fn check(text: &[u8], cap: usize) -> Result<(), TooCostly> {
    let size = text.len() as u64;
    // At most one value per two bytes (`0,`), plus the nesting: the most any text can cost.
    let worst = (size / 2 + 1 + MAX_DEPTH) * (value_bytes() + STRING_OVERHEAD) + size;
    if worst <= bound(cap) {
        return Ok(());
    }
    let counted = count(text);
    let parsed =
        counted.values * value_bytes() + counted.strings * STRING_OVERHEAD + counted.string_bytes;
    if parsed <= bound(cap) {
        return Ok(());
    }
    Err(TooCostly {
        size,
        values: counted.values,
        parsed,
        cap,
    })
}

/// What [`count`] found in a text.
#[derive(Debug, Default, PartialEq)]
struct Counted {
    /// Object keys are counted as values: each costs about as much in its map.
    values: u64,
    /// Keys included.
    strings: u64,
    string_bytes: u64,
}

/// The JSON values and strings in `text`. Not a validator: garbage gives some count, and the
/// parser rejects it afterwards.
fn count(text: &[u8]) -> Counted {
    let mut counted = Counted::default();
    let mut in_string = false;
    let mut escaped = false;
    let mut in_scalar = false;
    for &byte in text {
        if in_string {
            if escaped {
                escaped = false;
                counted.string_bytes += 1;
            } else if byte == b'\\' {
                escaped = true;
            } else if byte == b'"' {
                in_string = false;
            } else {
                counted.string_bytes += 1;
            }
            continue;
        }
        match byte {
            b'"' => {
                in_string = true;
                in_scalar = false;
                counted.values += 1;
                counted.strings += 1;
            }
            b'{' | b'[' => {
                in_scalar = false;
                counted.values += 1;
            }
            b'}' | b']' | b',' | b':' | b' ' | b'\t' | b'\r' | b'\n' => in_scalar = false,
            // Numbers, true, false, null: one value per run of these bytes.
            _ => {
                if !in_scalar {
                    counted.values += 1;
                    in_scalar = true;
                }
            }
        }
    }
    counted
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn values_are_counted_whatever_their_kind() {
        assert_eq!(
            count(br#"{"a": [0, -1.5e3, true, null, "x,]\"y"], "b": {}}"#),
            Counted {
                values: 10,
                strings: 3,
                string_bytes: 7
            }
        );
    }

    #[test]
    fn dense_tiny_elements_are_refused_and_text_is_not() {
        let cap = 1 << 20;
        let zeros = format!("[{}0]", "0,".repeat(400_000));
        let refused = check(zeros.as_bytes(), cap).unwrap_err();
        assert_eq!(refused.values, 400_002);
        assert_eq!(
            refused.describe(),
            format!(
                "reply of 781 KiB would take about {} once parsed (400002 JSON values), over the 2 MiB allowed by the 1 MiB cap",
                crate::mcp::human_bytes(400_002 * value_bytes())
            )
        );
        let text = format!("{{\"text\": \"{}\"}}", "a".repeat(cap - 20));
        assert_eq!(check(text.as_bytes(), cap), Ok(()));
    }
}
