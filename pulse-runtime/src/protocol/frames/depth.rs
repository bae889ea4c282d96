//! How deep a frame nests, found without parsing it: a frame nested past the limit is
//! refused before the decoder (and its recursion) sees it.

/// The offset of the first `[` or `{` that opens nesting level `max + 1` (the outermost
/// value is level 1), or `None`. Linear, and stops there: brackets inside strings do not
/// count. It does not validate the JSON (the decoder does) and cannot panic on any input.
pub(crate) fn depth_exceeded_at(bytes: &[u8], max: usize) -> Option<usize> {
    // Level `max + 1` needs more than `max` opening brackets, in strings or not. Counting
    // them is cheap (no state, the compiler vectorizes it), and clears almost every frame.
    let mut openings = 0;
    for block in bytes.chunks(64) {
        // `[` and `{` differ only in bit 0x20; a block holds at most 64, so a `u8` counts
        // them (in wide vector lanes, unlike a `usize`).
        let in_block = block.iter().fold(0u8, |n, &b| n.wrapping_add(u8::from(b | 0x20 == b'{')));
        openings += usize::from(in_block);
        if openings > max {
            return exact_depth_exceeded_at(bytes, max);
        }
    }
    None
}

/// [`depth_exceeded_at`], byte by byte, following strings and escapes.
fn exact_depth_exceeded_at(bytes: &[u8], max: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut i = 0;
    while let Some(&byte) = bytes.get(i) {
        match byte {
            b'"' => i = string_end(bytes, i + 1)?,
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return Some(i);
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    None
}

/// The offset of the quote that ends the string whose text starts at `i`, or `None` if
/// it does not end. Most of a frame is string text, so it is skipped eight bytes at a
/// time while they hold neither a quote nor a backslash.
fn string_end(bytes: &[u8], mut i: usize) -> Option<usize> {
    const ONES: u64 = u64::from_ne_bytes([1; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    // Whether any byte of `word` is `byte` (the classic zero-byte test on `word ^ byte`s).
    let has = |word: u64, byte: u8| {
        let x = word ^ (ONES * u64::from(byte));
        x.wrapping_sub(ONES) & !x & HIGHS != 0
    };
    loop {
        while let Some(chunk) = bytes.get(i..i.saturating_add(8)).and_then(|c| <[u8; 8]>::try_from(c).ok()) {
            let word = u64::from_ne_bytes(chunk);
            if has(word, b'"') || has(word, b'\\') {
                break;
            }
            i += 8;
        }
        match bytes.get(i)? {
            b'"' => return Some(i),
            b'\\' => i += 2,
            _ => i += 1,
        }
    }
}
