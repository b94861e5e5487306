//! A capture wrapper: records every frame a device carries to a pcap file.
//!
//! The file uses the classic pcap format (microsecond timestamps, the machine's byte
//! order), with link type Ethernet (`LINKTYPE_ETHERNET`, 1) for an Ethernet device and raw IP
//! (`LINKTYPE_RAW`, 101, IPv4 or IPv6 by the version nibble) for an IP device, so Wireshark
//! and tshark open it directly.

use super::{
    Capabilities, Device, DeviceWaker, FrameBatch, Medium, Readiness, Sleeper, WaitDevice,
};
use crate::time::Instant;
use core::fmt;
use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
use pcap_file::{DataLink, Endianness, PcapError, TsResolution};
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

/// Wraps a [`Device`] and writes every frame it receives or transmits to a pcap capture.
///
/// Each frame is stamped with the `now` of the call that carried it, counted from the Unix
/// epoch plus an offset ([`with_time_offset`](Self::with_time_offset)); a simulation that
/// starts its clock at zero therefore shows dates in January 1970.
///
/// The capture is buffered: frames are visible in the file after [`flush`](Self::flush) and
/// once the `Pcap` is dropped or unwrapped. A failure to write never disturbs the traffic:
/// the capture stops, the frames still flow, and [`flush`](Self::flush) reports the error.
pub struct Pcap<D: Device> {
    inner: D,
    capture: Capture,
}

impl<D: Device> Pcap<D> {
    /// Wraps `inner`, writing the capture to `writer`; fails if the file header cannot be
    /// written.
    pub fn new(inner: D, writer: impl Write + Send + 'static) -> io::Result<Self> {
        let capture = Capture::new(inner.capabilities(), Box::new(writer))?;
        Ok(Self { inner, capture })
    }

    /// Wraps `inner`, writing the capture to a new file at `path` (truncating any file there).
    pub fn create(inner: D, path: impl AsRef<Path>) -> io::Result<Self> {
        let file = std::fs::File::create(path)?;
        Self::new(inner, file)
    }

    /// `self` with `offset` added to every timestamp, e.g. the wall-clock time since the Unix
    /// epoch at which the caller's clock read zero.
    #[must_use]
    pub fn with_time_offset(mut self, offset: std::time::Duration) -> Self {
        self.capture.offset = offset;
        self
    }

    /// The wrapped device.
    pub const fn inner(&self) -> &D {
        &self.inner
    }

    /// The wrapped device, mutably. Frames moved through it directly are not captured.
    pub fn inner_mut(&mut self) -> &mut D {
        &mut self.inner
    }

    /// Flushes the capture and returns the wrapped device. Call [`flush`](Self::flush)
    /// first to learn whether the capture was written completely.
    pub fn into_inner(self) -> D {
        let Self { inner, capture } = self;
        drop(capture);
        inner
    }

    /// Writes out every frame captured so far; fails if the capture could not be written,
    /// now or earlier (the capture has stopped then).
    pub fn flush(&mut self) -> io::Result<()> {
        self.capture.flush()
    }
}

impl<D: Device> Device for Pcap<D> {
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    fn receive(&mut self, now: Instant, batch: &mut FrameBatch) -> io::Result<usize> {
        let first = batch.len();
        let count = self.inner.receive(now, batch)?;
        for frame in batch.iter().skip(first).take(count) {
            self.capture.record(now, frame);
        }
        Ok(count)
    }

    fn transmit(&mut self, now: Instant, batch: &FrameBatch) -> io::Result<usize> {
        let count = self.inner.transmit(now, batch)?;
        for frame in batch.iter().take(count) {
            self.capture.record(now, frame);
        }
        Ok(count)
    }

    fn poll_at(&self) -> Option<Instant> {
        self.inner.poll_at()
    }
}

impl<D: WaitDevice> WaitDevice for Pcap<D> {
    fn wait(&mut self, deadline: Option<std::time::Instant>) -> io::Result<()> {
        self.inner.wait(deadline)
    }

    fn waker(&self) -> DeviceWaker {
        self.inner.waker()
    }

    fn readiness(&self) -> Readiness {
        self.inner.readiness()
    }

    fn sleeper(&self) -> Option<Sleeper> {
        self.inner.sleeper()
    }
}

impl<D: Device + fmt::Debug> fmt::Debug for Pcap<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pcap")
            .field("inner", &self.inner)
            .field("failed", &self.capture.failure.is_some())
            .finish_non_exhaustive()
    }
}

/// The writing half of a [`Pcap`]; it flushes when dropped.
struct Capture {
    writer: PcapWriter<Output>,
    /// The same output as the writer's, which `PcapWriter` offers no way to flush.
    output: Output,
    offset: std::time::Duration,
    /// The first write error, after which nothing more is written.
    failure: Option<(io::ErrorKind, String)>,
    /// Bytes of virtio-net header before each frame, left out of the capture.
    skip: usize,
}

/// The snapshot length written in the header: at least the classic 65535, and never less
/// than the device's largest frame.
const MIN_SNAPLEN: u32 = 65_535;

impl Capture {
    fn new(caps: Capabilities, writer: Box<dyn Write + Send>) -> io::Result<Self> {
        let header = PcapHeader {
            version_major: 2,
            version_minor: 4,
            ts_correction: 0,
            ts_accuracy: 0,
            snaplen: u32::try_from(caps.max_frame_len()).unwrap_or(u32::MAX).max(MIN_SNAPLEN),
            datalink: match caps.medium {
                Medium::Ethernet => DataLink::ETHERNET,
                Medium::Ip => DataLink::RAW,
            },
            ts_resolution: TsResolution::MicroSecond,
            endianness: Endianness::native(),
        };
        let output = Output(Arc::new(Mutex::new(BufWriter::new(writer))));
        let writer = PcapWriter::with_header(output.clone(), header).map_err(into_io_error)?;
        let skip = if caps.offloads.virtio_header { crate::wire::virtio::HEADER_LEN } else { 0 };
        Ok(Self { writer, output, offset: std::time::Duration::ZERO, failure: None, skip })
    }

    fn record(&mut self, now: Instant, frame: &[u8]) {
        if self.failure.is_some() {
            return;
        }
        // A capture holds what the link carries: the virtio-net header is the device's.
        let frame = frame.get(self.skip..).unwrap_or_default();
        let snaplen = usize::try_from(self.writer.snaplen()).unwrap_or(usize::MAX);
        let packet = PcapPacket::new(
            self.offset.saturating_add(now.since_epoch().to_std()),
            u32::try_from(frame.len()).unwrap_or(u32::MAX),
            frame.get(..snaplen).unwrap_or(frame),
        );
        if let Err(e) = self.writer.write_packet(&packet) {
            self.fail(into_io_error(e));
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.failure.is_none() {
            if let Err(e) = self.output.flush() {
                self.fail(e);
            }
        }
        match &self.failure {
            None => Ok(()),
            Some((kind, message)) => {
                Err(io::Error::new(*kind, format!("pcap capture stopped: {message}")))
            }
        }
    }

    fn fail(&mut self, e: io::Error) {
        self.failure = Some((e.kind(), e.to_string()));
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        // Nobody is left to hear about an error here; `flush` is the way to see one.
        let _ = self.flush();
    }
}

/// The buffered file, shared by the `PcapWriter` and the [`Capture`] that flushes it (one
/// thread at a time uses it, so the lock is never contended).
#[derive(Clone)]
struct Output(Arc<Mutex<BufWriter<Box<dyn Write + Send>>>>);

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).write_all(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).flush()
    }
}

fn into_io_error(e: PcapError) -> io::Error {
    match e {
        PcapError::IoError(e) => e,
        other => io::Error::new(io::ErrorKind::InvalidData, other.to_string()),
    }
}
