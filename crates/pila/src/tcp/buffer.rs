//! Temporary stand-in for the `tcp-buffers` RingBuffer (same interface; replaced on merge).
#![allow(dead_code)]

#[derive(Debug)]
pub(crate) struct RingBuffer {
    storage: Vec<u8>,
    head: usize,
    len: usize,
    max: usize,
}

impl RingBuffer {
    pub(crate) fn new(max_capacity: usize) -> Self {
        Self { storage: Vec::new(), head: 0, len: 0, max: max_capacity }
    }
    pub(crate) fn len(&self) -> usize {
        self.len
    }
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }
    pub(crate) fn max_capacity(&self) -> usize {
        self.max
    }
    pub(crate) fn allocated(&self) -> usize {
        self.storage.len()
    }
    pub(crate) fn free(&self) -> usize {
        self.max - self.len
    }
    fn ensure(&mut self) {
        if self.storage.is_empty() && self.max > 0 {
            self.storage = vec![0; self.max];
            self.head = 0;
        }
    }
    fn idx(&self, off: usize) -> usize {
        (self.head + off) % self.max
    }
    pub(crate) fn write(&mut self, data: &[u8]) -> usize {
        let n = self.write_at(self.len, data);
        self.commit(n);
        n
    }
    pub(crate) fn read(&mut self, out: &mut [u8]) -> usize {
        let n = self.peek(0, out);
        self.consume(n);
        n
    }
    pub(crate) fn consume(&mut self, n: usize) {
        let n = n.min(self.len);
        if n > 0 {
            self.head = self.idx(n);
        }
        self.len -= n;
    }
    pub(crate) fn peek(&self, offset: usize, out: &mut [u8]) -> usize {
        let (a, b) = self.slices(offset, out.len());
        out[..a.len()].copy_from_slice(a);
        out[a.len()..a.len() + b.len()].copy_from_slice(b);
        a.len() + b.len()
    }
    pub(crate) fn slices(&self, offset: usize, len: usize) -> (&[u8], &[u8]) {
        if offset >= self.len || self.storage.is_empty() {
            return (&[], &[]);
        }
        let len = len.min(self.len - offset);
        let start = self.idx(offset);
        let first = len.min(self.max - start);
        (&self.storage[start..start + first], &self.storage[..len - first])
    }
    pub(crate) fn write_at(&mut self, offset: usize, data: &[u8]) -> usize {
        if offset >= self.max {
            return 0;
        }
        self.ensure();
        let n = data.len().min(self.max - offset);
        for (i, &b) in data[..n].iter().enumerate() {
            let j = self.idx(offset + i);
            self.storage[j] = b;
        }
        n
    }
    pub(crate) fn commit(&mut self, n: usize) {
        self.len = (self.len + n).min(self.max);
    }
    pub(crate) fn shrink_when_empty(&mut self) {
        if self.len == 0 {
            self.storage = Vec::new();
            self.head = 0;
        }
    }
}
