//! Bit-level writing and reading for the chunk codec. The reader never
//! reads past its slice: running out is an error the decoder returns,
//! so a truncated or corrupt chunk cannot panic or loop.

#[derive(Default)]
pub struct BitWriter {
    bytes: Vec<u8>,
    /// Bits used in the last byte (0 = a fresh byte is needed).
    used: u8,
}

impl BitWriter {
    pub fn with_capacity(bytes: usize) -> Self {
        Self {
            bytes: Vec::with_capacity(bytes),
            used: 0,
        }
    }

    pub fn bit(&mut self, on: bool) {
        if self.used == 0 {
            self.bytes.push(0);
        }
        if on {
            let last = self.bytes.len() - 1;
            self.bytes[last] |= 0x80 >> self.used;
        }
        self.used = (self.used + 1) % 8;
    }

    /// The low `n` bits of `v`, most significant first (n ≤ 64).
    pub fn bits(&mut self, v: u64, n: u8) {
        let mut left = n;
        while left > 0 {
            if self.used == 0 {
                self.bytes.push(0);
            }
            let room = 8 - self.used;
            let take = room.min(left);
            // The next `take` bits of v, from the top of what is left.
            let chunk = ((v >> (left - take)) & ((1u64 << take) - 1)) as u8;
            let last = self.bytes.len() - 1;
            self.bytes[last] |= chunk << (room - take);
            self.used = (self.used + take) % 8;
            left -= take;
        }
    }

    pub fn finish(self) -> Vec<u8> {
        self.bytes
    }
}

pub struct BitReader<'a> {
    bytes: &'a [u8],
    /// Position in bits.
    pos: usize,
}

/// The chunk ended before the decoder was done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exhausted;

impl<'a> BitReader<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, pos: 0 }
    }

    pub fn bit(&mut self) -> Result<bool, Exhausted> {
        let byte = *self.bytes.get(self.pos / 8).ok_or(Exhausted)?;
        let on = byte & (0x80 >> (self.pos % 8)) != 0;
        self.pos += 1;
        Ok(on)
    }

    pub fn bits(&mut self, n: u8) -> Result<u64, Exhausted> {
        if self.pos + n as usize > self.bytes.len() * 8 {
            return Err(Exhausted);
        }
        // One 8-byte load when the bits lie in the 8 bytes from the
        // current one (nearly always): decoding was 7% of the host page.
        let (byte, offset) = (self.pos / 8, (self.pos % 8) as u32);
        if n > 0 && u32::from(n) + offset <= 64 {
            if let Some(word) = self.bytes.get(byte..byte + 8) {
                let word = u64::from_be_bytes(word.try_into().expect("8 bytes"));
                self.pos += n as usize;
                return Ok((word << offset) >> (64 - u32::from(n)));
            }
        }
        let mut v = 0u64;
        let mut left = n;
        while left > 0 {
            let byte = self.bytes[self.pos / 8];
            let offset = (self.pos % 8) as u8;
            let room = 8 - offset;
            let take = room.min(left);
            let chunk = (byte >> (room - take)) & (((1u16 << take) - 1) as u8);
            v = (v << take) | u64::from(chunk);
            self.pos += take as usize;
            left -= take;
        }
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_come_back_as_written() {
        let mut w = BitWriter::default();
        let items: Vec<(u64, u8)> = vec![
            (1, 1),
            (0b101, 3),
            (u64::MAX, 64),
            (0, 7),
            (0x1234_5678, 32),
            (1, 1),
            (0x3fff, 14),
        ];
        for &(v, n) in &items {
            w.bits(v, n);
        }
        w.bit(true);
        let bytes = w.finish();
        let mut r = BitReader::new(&bytes);
        for &(v, n) in &items {
            assert_eq!(r.bits(n).unwrap(), v, "{n} bits");
        }
        assert!(r.bit().unwrap());
        // The rest of the last byte is zero padding, then nothing.
        while r.bit().is_ok() {}
        assert_eq!(r.bits(1), Err(Exhausted));
    }
}
