//! `pila plot`: a connection's life as pictures, from a trace (`--trace FILE`) or a pcap
//! file: the time-sequence graph, throughput, RTT samples with the smoothed RTT and RTO,
//! and the congestion window with the threshold and the bytes in flight.

mod flow;
mod render;

use crate::Failure;
use flow::Flow;
use std::path::{Path, PathBuf};

/// Draw a connection from a trace or a pcap file.
#[derive(Debug, clap::Args)]
pub(crate) struct PlotArgs {
    /// A trace written by --trace (JSON lines), or a pcap file.
    #[arg(value_name = "TRACE|PCAP")]
    input: PathBuf,
    /// The connection to draw, as its two ends: 192.0.2.1:49152-192.0.2.2:80 (either
    /// order). Default: the one that moved the most data.
    #[arg(long, value_name = "4-TUPLE")]
    conn: Option<String>,
    /// Where to write the plots: FILE.svg, FILE.png, or FILE.html (a page holding the
    /// SVG). Default: the input's name with .svg.
    #[arg(short, value_name = "FILE")]
    o: Option<PathBuf>,
}

/// How the picture is written, by the output's extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Svg,
    Png,
    Html,
}

pub(crate) fn run(args: &PlotArgs) -> Result<(), Failure> {
    let output = args.o.clone().unwrap_or_else(|| args.input.with_extension("svg"));
    let format = match output.extension().and_then(|e| e.to_str()) {
        Some("svg") => Format::Svg,
        Some("png") => Format::Png,
        Some("html" | "htm") => Format::Html,
        _ => {
            return Err(Failure::Usage(format!(
                "cannot tell how to write {}: name it .svg, .png or .html",
                output.display()
            )));
        }
    };
    let bytes = std::fs::read(&args.input).map_err(|e| {
        format!(
            "cannot read {}: {e} — give a trace (--trace FILE) or a pcap file",
            args.input.display()
        )
    })?;
    let flows = read(&bytes)?;
    let flow = choose(&flows, args.conn.as_deref()).map_err(Failure::Usage)?;
    write(flow, format, &output)?;
    println!(
        "wrote {}: {} ({} data segments, {} ACKs, {} RTT samples)",
        output.display(),
        flow.name,
        flow.data.len(),
        flow.acks.len(),
        flow.rtt.len()
    );
    Ok(())
}

/// The connections in a trace or a pcap file, told apart by the pcap's magic number.
fn read(bytes: &[u8]) -> Result<Vec<Flow>, String> {
    const PCAP_MAGICS: [[u8; 4]; 4] = [
        [0xd4, 0xc3, 0xb2, 0xa1],
        [0xa1, 0xb2, 0xc3, 0xd4],
        [0x4d, 0x3c, 0xb2, 0xa1],
        [0xa1, 0xb2, 0x3c, 0x4d],
    ];
    if bytes.len() >= 4 && PCAP_MAGICS.iter().any(|m| bytes[..4] == *m) {
        return flow::from_pcap(bytes);
    }
    let text = std::str::from_utf8(bytes)
        .map_err(|_| "neither a trace (JSON lines) nor a pcap file".to_owned())?;
    flow::from_trace(text)
}

/// The connection named by `conn` (either order of its ends), or the one that moved the
/// most data.
fn choose<'a>(flows: &'a [Flow], conn: Option<&str>) -> Result<&'a Flow, String> {
    let Some(wanted) = conn else {
        return flows.iter().max_by_key(|f| f.bytes()).ok_or_else(|| "no connection".into());
    };
    let reversed = wanted.split_once('-').map(|(a, b)| format!("{b}-{a}"));
    flows.iter().find(|f| f.name == wanted || Some(&f.name) == reversed.as_ref()).ok_or_else(|| {
        let names: Vec<&str> = flows.iter().map(|f| f.name.as_str()).collect();
        format!("no connection {wanted} here; there are: {}", names.join(", "))
    })
}

/// Draws `flow` into `output` as `format` says.
fn write(flow: &Flow, format: Format, output: &Path) -> Result<(), String> {
    let cannot = |e: std::io::Error| {
        format!("cannot write {}: {e} — check that its directory exists", output.display())
    };
    match format {
        Format::Svg | Format::Html => {
            let svg = svg(flow)?;
            let text = if format == Format::Svg { svg } else { html(flow, &svg) };
            std::fs::write(output, text).map_err(cannot)
        }
        Format::Png => std::fs::write(output, png(&svg(flow)?)?).map_err(cannot),
    }
}

/// The plots of `flow` as one SVG document.
pub(crate) fn svg(flow: &Flow) -> Result<String, String> {
    use plotters::prelude::*;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, render::SIZE).into_drawing_area();
        render::draw(&root, flow)?;
    }
    Ok(svg)
}

/// A page holding the SVG, for a browser.
fn html(flow: &Flow, svg: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>pila plot: {name}</title>\
         <style>body {{ font-family: sans-serif; margin: 2em; }}</style></head>\n<body>\
         <h1>{name}</h1>\n{svg}\n</body></html>\n",
        name = flow.name
    )
}

/// The SVG made a PNG, its text in the system's fonts (Debian's `fonts-dejavu-core`, which
/// most desktops and Chromium bring).
fn png(svg: &str) -> Result<Vec<u8>, String> {
    use resvg::{tiny_skia, usvg};
    let mut options = usvg::Options::default();
    let fonts = std::sync::Arc::make_mut(&mut options.fontdb);
    fonts.load_system_fonts();
    // The plots ask for `sans-serif`: the first sans face installed, DejaVu if it is there.
    let families: Vec<String> =
        fonts.faces().filter_map(|f| f.families.first().map(|(name, _)| name.clone())).collect();
    let sans = families
        .iter()
        .find(|f| *f == "DejaVu Sans")
        .or_else(|| families.iter().find(|f| f.contains("Sans") && !f.contains("Mono")))
        .or_else(|| families.first())
        .ok_or(
            "a PNG needs a font and none is installed — install fonts-dejavu-core, or write .svg",
        )?
        .clone();
    fonts.set_sans_serif_family(sans);
    let tree = usvg::Tree::from_str(svg, &options)
        .map_err(|e| format!("cannot read the SVG drawn: {e}"))?;
    let size = tree.size().to_int_size();
    let mut pixmap =
        tiny_skia::Pixmap::new(size.width(), size.height()).ok_or("the picture has no size")?;
    resvg::render(&tree, tiny_skia::Transform::default(), &mut pixmap.as_mut());
    pixmap.encode_png().map_err(|e| format!("cannot encode the PNG: {e}"))
}

#[cfg(test)]
mod tests {
    use super::render::*;
    use super::*;
    use pila::device::Impairments;
    use pila::sim::{PairConfig, Side, TcpPair, Transfer};
    use pila::time::Duration;
    use plotters::style::RGBColor;

    /// A traced and captured 512 KiB transfer at 2 % loss in the simulator: its trace, its
    /// capture as a pcap file (as the client would have seen it), and the sender's figures.
    fn lossy_run() -> (String, Vec<u8>, pila::tcp::TcpInfo) {
        let wire =
            Impairments::NONE.with_loss(0.02).with_delay(Duration::from_millis(10), Duration::ZERO);
        let tcp = pila::tcp::Config { trace: true, ..pila::tcp::Config::default() };
        let config =
            PairConfig { seed: 7, ..PairConfig::default() }.with_impairments(wire).with_tcp(tcp);
        let mut pair = TcpPair::new(config);
        pair.net_mut().set_trace_recording(true);
        pair.net_mut().set_capture(true);
        Transfer::new(Side::Client, 512 << 10, 7).run(&mut pair, |_| {}).unwrap();
        let mut trace = Vec::new();
        pair.net().write_trace(&mut trace).unwrap();
        let mut pcap = Vec::new();
        {
            use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
            let header =
                PcapHeader { datalink: pcap_file::DataLink::ETHERNET, ..PcapHeader::default() };
            let mut w = PcapWriter::with_header(&mut pcap, header).unwrap();
            // As captured at the client: the server's frames arrive one way's delay later.
            for f in pair.net().captured() {
                let delay = if f.from == Side::Server { 10_000 } else { 0 };
                let at = std::time::Duration::from_micros(f.at.total_micros() + delay);
                w.write_packet(&PcapPacket::new(at, f.frame.len() as u32, &f.frame)).unwrap();
            }
        }
        (String::from_utf8(trace).unwrap(), pcap, pair.client().info())
    }

    fn hex(c: RGBColor) -> String {
        format!("#{:02X}{:02X}{:02X}", c.0, c.1, c.2)
    }

    /// The elements of the SVG drawn in `color` (stroke or fill), each with the number of
    /// points it has (a circle has one).
    fn drawn(svg: &str, color: RGBColor) -> Vec<usize> {
        let hex = hex(color);
        svg.split('<')
            .filter(|e| {
                e.contains(&format!("stroke=\"{hex}\"")) || e.contains(&format!("fill=\"{hex}\""))
            })
            .filter(|e| e.starts_with("polyline") || e.starts_with("circle"))
            .map(|e| match e.split("points=\"").nth(1) {
                Some(points) => points.split('"').next().unwrap_or("").split_whitespace().count(),
                None => 1,
            })
            .collect()
    }

    #[test]
    fn the_plots_of_a_traced_lossy_transfer_hold_every_series() {
        let (trace, _, info) = lossy_run();
        let flows = flow::from_trace(&trace).unwrap();
        let flow = choose(&flows, None).unwrap();
        assert!(flow.name.ends_with(":80"), "{}", flow.name);
        let svg = svg(flow).unwrap();
        let new = flow.data.iter().filter(|d| !d.retransmit).count();
        let again = flow.data.len() - new;
        assert_eq!(again as u64, info.retransmitted_segments);
        assert!(again > 0);
        // One bar per data segment (and one in the legend), in its colour.
        assert_eq!(drawn(&svg, DATA).len(), new + 1);
        assert_eq!(drawn(&svg, RETRANSMIT).len(), again + 1);
        // The ACK line and the window's edge: one point per ACK.
        assert_eq!(drawn(&svg, ACK).iter().max(), Some(&flow.acks.len()));
        assert_eq!(drawn(&svg, WINDOW).iter().max(), Some(&flow.acks.len()));
        let sacked: usize = flow.acks.iter().map(|a| a.sack.len()).sum();
        assert!(sacked > 0, "2 % loss and no SACK block");
        assert_eq!(drawn(&svg, SACK).len(), sacked + 1);
        // Throughput in its bins, RTT samples as dots with the estimator's lines.
        assert_eq!(drawn(&svg, THROUGHPUT).iter().max(), Some(&THROUGHPUT_BINS));
        assert_eq!(drawn(&svg, SAMPLE).len(), flow.rtt.len() + 1);
        assert_eq!(drawn(&svg, SRTT).iter().max(), Some(&flow.rtt.len()));
        assert_eq!(drawn(&svg, RTO).iter().max(), Some(&flow.rtt.len()));
        // The window: cwnd and in flight at each change; ssthresh once there was a loss.
        assert_eq!(drawn(&svg, CWND).iter().max(), Some(&flow.cc.len()));
        assert_eq!(drawn(&svg, IN_FLIGHT).iter().max(), Some(&flow.cc.len()));
        let with_threshold = flow.cc.iter().filter(|c| c.ssthresh.is_some()).count();
        assert!(with_threshold > 0 && with_threshold < flow.cc.len());
        assert_eq!(drawn(&svg, SSTHRESH).iter().max(), Some(&with_threshold));
        // Axes: every byte of the stream is on the sequence axis, the time axis spans the
        // transfer.
        assert_eq!(flow.data.iter().map(|d| d.end).max(), Some(512 << 10));
        let last = flow.duration();
        assert!(last > 0.1 && last < 10.0, "{last} s");
        assert!(svg.contains("time (s)") && svg.contains("sequence (bytes)"));
        let throughput: f64 = throughput_bins(flow, last * 1.02).iter().map(|b| b.1).sum();
        let mean = throughput / THROUGHPUT_BINS as f64;
        let expected = (512 << 10) as f64 * 8.0 / (last * 1.02) / 1e6;
        assert!((mean - expected).abs() < expected * 0.05, "{mean} against {expected} Mbit/s");
    }

    #[test]
    fn a_capture_alone_draws_what_its_packets_show() {
        let (_, pcap, info) = lossy_run();
        let flows = flow::from_pcap(&pcap).unwrap();
        let flow = choose(&flows, None).unwrap();
        assert!(!flow.traced);
        // The capture is the sender's: every segment it sent, so every retransmission.
        let again = flow.data.iter().filter(|d| d.retransmit).count();
        assert_eq!(again as u64, info.retransmitted_segments, "{}", flow.name);
        assert_eq!(flow.data.iter().map(|d| d.end).max(), Some(512 << 10));
        // RTT samples from data sent once and its ACK, near the wire's 20 ms.
        assert!(flow.rtt.len() > 10);
        assert!(flow.rtt.iter().all(|r| (0.019..0.5).contains(&r.sample)), "{:?}", flow.rtt);
        let svg = svg(flow).unwrap();
        assert_eq!(drawn(&svg, RETRANSMIT).len(), again + 1);
        assert_eq!(drawn(&svg, SAMPLE).len(), flow.rtt.len() + 1);
        assert!(drawn(&svg, SRTT).is_empty() && drawn(&svg, CWND).is_empty());
        assert_eq!(drawn(&svg, IN_FLIGHT).iter().max(), Some(&flow.cc.len()));
    }

    #[test]
    fn the_plots_go_out_as_svg_png_and_html_by_the_name_given() {
        let (trace, _, _) = lossy_run();
        let dir = std::env::temp_dir().join(format!("pila-plot-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let input = dir.join("t.jsonl");
        std::fs::write(&input, trace).unwrap();
        for name in ["t.svg", "t.png", "t.html"] {
            let o = Some(dir.join(name));
            run(&PlotArgs { input: input.clone(), conn: None, o }).unwrap();
        }
        let svg = std::fs::read_to_string(dir.join("t.svg")).unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("time–sequence"));
        let png = std::fs::read(dir.join("t.png")).unwrap();
        assert_eq!(png[..8], *b"\x89PNG\r\n\x1a\n");
        // The IHDR chunk: width and height, big-endian.
        let dims = |at: usize| u32::from_be_bytes(png[at..at + 4].try_into().unwrap());
        assert_eq!((dims(16), dims(20)), render::SIZE);
        let html = std::fs::read_to_string(dir.join("t.html")).unwrap();
        assert!(html.starts_with("<!DOCTYPE html>") && html.contains(&svg));
        let bad = PlotArgs { input, conn: None, o: Some(dir.join("t.gif")) };
        assert!(matches!(run(&bad), Err(Failure::Usage(m)) if m.contains(".svg, .png or .html")));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_connection_is_chosen_by_its_ends_in_either_order() {
        let (trace, _, _) = lossy_run();
        let flows = flow::from_trace(&trace).unwrap();
        let name = choose(&flows, None).unwrap().name.clone();
        let (a, b) = name.split_once('-').unwrap();
        assert_eq!(choose(&flows, Some(&format!("{b}-{a}"))).unwrap().name, name);
        let err = choose(&flows, Some("10.9.9.9:1-10.9.9.8:2")).unwrap_err();
        assert!(err.contains(&name), "{err}");
    }
}
