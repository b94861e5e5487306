//! The four plots of one connection, drawn with plotters into one SVG: the time-sequence
//! graph, throughput, RTT, and the congestion window.

use super::flow::Flow;
use plotters::coord::Shift;
use plotters::prelude::*;

/// Each series' colour; the tests find a series in the SVG by it.
pub(crate) const DATA: RGBColor = RGBColor(31, 119, 180);
pub(crate) const RETRANSMIT: RGBColor = RGBColor(214, 39, 40);
pub(crate) const ACK: RGBColor = RGBColor(44, 160, 44);
pub(crate) const WINDOW: RGBColor = RGBColor(255, 127, 14);
pub(crate) const SACK: RGBColor = RGBColor(148, 103, 189);
pub(crate) const THROUGHPUT: RGBColor = RGBColor(23, 190, 207);
pub(crate) const SAMPLE: RGBColor = RGBColor(127, 127, 127);
pub(crate) const SRTT: RGBColor = RGBColor(31, 119, 181);
pub(crate) const RTO: RGBColor = RGBColor(214, 39, 41);
pub(crate) const CWND: RGBColor = RGBColor(31, 119, 182);
pub(crate) const SSTHRESH: RGBColor = RGBColor(214, 39, 42);
pub(crate) const IN_FLIGHT: RGBColor = RGBColor(44, 160, 45);

/// The most data segments drawn: a longer transfer is drawn from every n-th one.
const MAX_SEGMENTS: usize = 40_000;

/// Bins of the throughput plot.
pub(crate) const THROUGHPUT_BINS: usize = 100;

/// The size of the whole picture.
pub(crate) const SIZE: (u32, u32) = (1000, 1600);

type Area<'a, DB> = DrawingArea<DB, Shift>;

/// Draws the four plots of `flow` on `root`.
pub(crate) fn draw<DB: DrawingBackend>(root: &Area<'_, DB>, flow: &Flow) -> Result<(), String> {
    let fail = |e: DrawingAreaErrorKind<DB::ErrorType>| format!("cannot draw the plot: {e}");
    root.fill(&WHITE).map_err(fail)?;
    let (title, rest) = root.split_vertically(40);
    let what = if flow.traced { "trace" } else { "capture" };
    let caption = format!(
        "{} — {} bytes in {:.3} s from {:.3} s ({what})",
        flow.name,
        flow.bytes(),
        flow.duration(),
        flow.start
    );
    title.titled(&caption, ("sans-serif", 22)).map_err(fail)?;
    let panels = rest.split_evenly((4, 1));
    let t_max = flow.duration().max(1e-3) * 1.02;
    sequence(&panels[0], flow, t_max).map_err(fail)?;
    throughput(&panels[1], flow, t_max).map_err(fail)?;
    rtt(&panels[2], flow, t_max).map_err(fail)?;
    window(&panels[3], flow, t_max).map_err(fail)?;
    root.present().map_err(fail)
}

type Drawn<DB> = Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

fn legend_line(color: RGBColor) -> impl Fn((i32, i32)) -> PathElement<(i32, i32)> {
    move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
}

/// Every `n`-th of `items`, so that at most `most` remain.
fn thin<T>(items: &[T], most: usize) -> impl Iterator<Item = &T> {
    let step = items.len().div_ceil(most.max(1)).max(1);
    items.iter().step_by(step)
}

/// Stevens' time-sequence graph: each data segment a vertical bar from its first byte to
/// its last (retransmissions in red), the cumulative ACK, the right edge of the window
/// offered, and the SACKed ranges.
fn sequence<DB: DrawingBackend>(area: &Area<'_, DB>, flow: &Flow, t_max: f64) -> Drawn<DB> {
    // The data and the ACKs set the scale; a window far beyond them is cut at the top.
    let data_top = flow.data.iter().map(|d| d.end).chain(flow.acks.iter().map(|a| a.ack)).max();
    let top = data_top.unwrap_or(1) as f64 * 1.15;
    let mut chart = ChartBuilder::on(area)
        .caption("time–sequence", ("sans-serif", 18))
        .margin(10)
        .x_label_area_size(35)
        .y_label_area_size(80)
        .build_cartesian_2d(0f64..t_max, 0f64..top.max(1.0))?;
    chart
        .configure_mesh()
        .x_desc("time (s)")
        .y_desc("sequence (bytes)")
        .y_label_formatter(&|v| format!("{v:.0}"))
        .draw()?;
    let bar = |d: &super::flow::DataSeg, color: RGBColor| {
        PathElement::new(vec![(d.t, d.start as f64), (d.t, d.end as f64)], color)
    };
    let new: Vec<_> = flow.data.iter().filter(|d| !d.retransmit).copied().collect();
    let again: Vec<_> = flow.data.iter().filter(|d| d.retransmit).copied().collect();
    chart
        .draw_series(thin(&new, MAX_SEGMENTS).map(|d| bar(d, DATA)))?
        .label("data sent")
        .legend(legend_line(DATA));
    chart
        .draw_series(thin(&again, MAX_SEGMENTS).map(|d| bar(d, RETRANSMIT)))?
        .label("retransmitted")
        .legend(legend_line(RETRANSMIT));
    let acks = thin(&flow.acks, MAX_SEGMENTS);
    chart
        .draw_series(LineSeries::new(acks.map(|a| (a.t, a.ack as f64)), ACK))?
        .label("ACK")
        .legend(legend_line(ACK));
    let edges = thin(&flow.acks, MAX_SEGMENTS);
    chart
        .draw_series(LineSeries::new(edges.map(|a| (a.t, a.right_edge as f64)), WINDOW))?
        .label("receive window")
        .legend(legend_line(WINDOW));
    let sacked = flow.acks.iter().flat_map(|a| a.sack.iter().map(move |&(l, r)| (a.t, l, r)));
    let sacked: Vec<_> = sacked.collect();
    chart
        .draw_series(
            thin(&sacked, MAX_SEGMENTS)
                .map(|&(t, l, r)| PathElement::new(vec![(t, l as f64), (t, r as f64)], SACK)),
        )?
        .label("SACKed")
        .legend(legend_line(SACK));
    chart.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw()
}

/// The bytes acknowledged in each of [`THROUGHPUT_BINS`] intervals, in Mbit/s: what the
/// receiver got, as the sender learned it.
pub(crate) fn throughput_bins(flow: &Flow, t_max: f64) -> Vec<(f64, f64)> {
    let width = t_max / THROUGHPUT_BINS as f64;
    let mut bytes = vec![0u64; THROUGHPUT_BINS];
    let mut acked = 0;
    for a in &flow.acks {
        if a.ack > acked {
            let bin = ((a.t / width) as usize).min(THROUGHPUT_BINS - 1);
            bytes[bin] += a.ack - acked;
            acked = a.ack;
        }
    }
    bytes
        .iter()
        .enumerate()
        .map(|(i, &b)| ((i as f64 + 0.5) * width, b as f64 * 8.0 / width / 1e6))
        .collect()
}

fn throughput<DB: DrawingBackend>(area: &Area<'_, DB>, flow: &Flow, t_max: f64) -> Drawn<DB> {
    let bins = throughput_bins(flow, t_max);
    let top = bins.iter().map(|b| b.1).fold(0.0, f64::max).max(1e-3) * 1.1;
    let mut chart = ChartBuilder::on(area)
        .caption("throughput (acknowledged)", ("sans-serif", 18))
        .margin(10)
        .x_label_area_size(35)
        .y_label_area_size(80)
        .build_cartesian_2d(0f64..t_max, 0f64..top)?;
    chart.configure_mesh().x_desc("time (s)").y_desc("Mbit/s").draw()?;
    chart
        .draw_series(LineSeries::new(bins, THROUGHPUT.stroke_width(2)))?
        .label("throughput")
        .legend(legend_line(THROUGHPUT));
    chart.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw()
}

/// RTT samples, the smoothed RTT and the RTO on a logarithmic axis: the RTO's floor is
/// often a hundred times the samples.
fn rtt<DB: DrawingBackend>(area: &Area<'_, DB>, flow: &Flow, t_max: f64) -> Drawn<DB> {
    let ms = 1e3;
    let values = flow.rtt.iter().flat_map(|r| [Some(r.sample), r.srtt, r.rto]).flatten();
    let (low, high) = values.fold((f64::MAX, 0.0f64), |(l, h), v| (l.min(v), h.max(v)));
    let (low, high) =
        if high > 0.0 { (low.max(1e-6) * ms / 1.5, high * ms * 1.5) } else { (0.1, 1.0) };
    let mut chart = ChartBuilder::on(area)
        .caption("round-trip time", ("sans-serif", 18))
        .margin(10)
        .x_label_area_size(35)
        .y_label_area_size(80)
        .build_cartesian_2d(0f64..t_max, (low..high).log_scale())?;
    chart.configure_mesh().x_desc("time (s)").y_desc("ms").draw()?;
    chart
        .draw_series(
            thin(&flow.rtt, MAX_SEGMENTS)
                .map(|r| Circle::new((r.t, (r.sample * ms).max(low)), 2, SAMPLE.filled())),
        )?
        .label("RTT sample")
        .legend(|(x, y)| Circle::new((x + 9, y), 3, SAMPLE.filled()));
    let line = |f: fn(&super::flow::RttPoint) -> Option<f64>| {
        flow.rtt.iter().filter_map(move |r| f(r).map(|v| (r.t, v * ms))).collect::<Vec<_>>()
    };
    let srtt = line(|r| r.srtt);
    if !srtt.is_empty() {
        chart
            .draw_series(LineSeries::new(srtt, SRTT))?
            .label("smoothed RTT")
            .legend(legend_line(SRTT));
    }
    let rto = line(|r| r.rto);
    if !rto.is_empty() {
        chart.draw_series(LineSeries::new(rto, RTO))?.label("RTO").legend(legend_line(RTO));
    }
    chart.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw()
}

fn window<DB: DrawingBackend>(area: &Area<'_, DB>, flow: &Flow, t_max: f64) -> Drawn<DB> {
    let kib = 1.0 / 1024.0;
    let top = flow
        .cc
        .iter()
        .flat_map(|c| [c.cwnd, c.ssthresh, Some(c.in_flight)])
        .flatten()
        .fold(0.0, f64::max)
        .max(1.0)
        * kib
        * 1.1;
    let caption = if flow.traced { "congestion window" } else { "bytes in flight" };
    let mut chart = ChartBuilder::on(area)
        .caption(caption, ("sans-serif", 18))
        .margin(10)
        .x_label_area_size(35)
        .y_label_area_size(80)
        .build_cartesian_2d(0f64..t_max, 0f64..top)?;
    chart.configure_mesh().x_desc("time (s)").y_desc("KiB").draw()?;
    let series = |f: fn(&super::flow::CcPoint) -> Option<f64>| {
        let points: Vec<_> = flow.cc.iter().filter_map(|c| f(c).map(|v| (c.t, v * kib))).collect();
        thin(&points, MAX_SEGMENTS).copied().collect::<Vec<_>>()
    };
    let cwnd = series(|c| c.cwnd);
    if !cwnd.is_empty() {
        chart
            .draw_series(LineSeries::new(cwnd, CWND.stroke_width(2)))?
            .label("cwnd")
            .legend(legend_line(CWND));
    }
    let ssthresh = series(|c| c.ssthresh);
    if !ssthresh.is_empty() {
        chart
            .draw_series(LineSeries::new(ssthresh, SSTHRESH))?
            .label("ssthresh")
            .legend(legend_line(SSTHRESH));
    }
    chart
        .draw_series(LineSeries::new(series(|c| Some(c.in_flight)), IN_FLIGHT))?
        .label("in flight")
        .legend(legend_line(IN_FLIGHT));
    chart.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw()
}
