//! The recorded mix: every series a real node_exporter exposed on this
//! kind of machine, scraped every 15 s (`scripts/record_mix.py` wrote the
//! fixture), replayed for as long as the benchmark needs.
//!
//! The recording is shorter than the span stored, so it is extended the
//! way the data itself behaves: scrape intervals (with their real jitter)
//! repeat; gauges play back and forth through their recorded values (no
//! jump where the recording wraps); counters keep adding their recorded
//! increments in exact decimal arithmetic, so a CPU-seconds counter still
//! has two decimals after two days, as a real one does. Each host starts
//! at a different point of the recording.

use dozor_common::expo::{Format, Parser};
use dozor_common::{Labels, Sample, SeriesBatch};
use std::io::Read;

pub const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/benches/storage_size/node_exporter_mix.txt.gz"
);

enum Values {
    /// Value per scrape; None where the series was missing.
    Gauge(Vec<Option<f64>>),
    /// value = (first + increments so far) / 10^scale.
    Counter {
        scale: u32,
        first: i128,
        increments: Vec<i128>,
    },
}

struct Recorded {
    name: String,
    labels: Labels,
    values: Values,
}

pub struct Recording {
    /// Milliseconds between consecutive scrapes.
    intervals: Vec<i64>,
    series: Vec<Recorded>,
}

/// "x*n" → n copies of x.
fn expand(tokens: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for t in tokens.split(' ') {
        match t.rsplit_once('*') {
            Some((v, n)) => out.extend(std::iter::repeat_n(v, n.parse().expect("run length"))),
            None => out.push(t),
        }
    }
    out
}

fn name_and_labels(series: &str) -> (String, Labels) {
    let text = format!("{series} 0\n");
    let mut parser = Parser::new(&text, Format::Text);
    let s = parser
        .next_sample()
        .expect("one sample")
        .expect("a series as exposed");
    let labels = s
        .labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    (s.name.to_string(), labels)
}

impl Recording {
    pub fn load() -> Self {
        let mut text = String::new();
        flate2::read::GzDecoder::new(std::fs::File::open(FIXTURE).expect(FIXTURE))
            .read_to_string(&mut text)
            .expect("gzip text");
        let mut intervals = Vec::new();
        let mut series = Vec::new();
        for line in text.lines() {
            let mut f = line.splitn(3, '\t');
            let (kind, key, rest) = (f.next(), f.next(), f.next().unwrap_or(""));
            match kind {
                Some("T") => {
                    intervals = rest
                        .split(' ')
                        .skip(1)
                        .map(|d| d.parse().expect("interval"))
                        .collect()
                }
                Some("G") => {
                    let (name, labels) = name_and_labels(key.expect("series"));
                    let values = expand(rest)
                        .into_iter()
                        .map(|v| match v {
                            "_" => None,
                            v => Some(dozor_common::model::parse_value(v).expect("value")),
                        })
                        .collect();
                    series.push(Recorded {
                        name,
                        labels,
                        values: Values::Gauge(values),
                    });
                }
                Some("C") => {
                    let (name, labels) = name_and_labels(key.expect("series"));
                    let (head, incs) = rest.split_once(' ').expect("scale");
                    let (first, incs) = incs.split_once(' ').unwrap_or((incs, ""));
                    let increments = if incs.is_empty() {
                        Vec::new()
                    } else {
                        expand(incs)
                            .into_iter()
                            .map(|i| i.parse().expect("increment"))
                            .collect()
                    };
                    series.push(Recorded {
                        name,
                        labels,
                        values: Values::Counter {
                            scale: head.parse().expect("scale"),
                            first: first.parse().expect("first"),
                            increments,
                        },
                    });
                }
                _ => {}
            }
        }
        assert!(!intervals.is_empty(), "fixture has no scrape times");
        Self { intervals, series }
    }

    pub fn series_per_host(&self) -> usize {
        self.series.len()
    }

    pub fn scrapes(&self) -> usize {
        self.intervals.len() + 1
    }

    /// Host `h`'s series from `start` until `start + span`.
    pub fn host(&self, h: usize, start: i64, span: i64) -> Vec<SeriesBatch> {
        let scrapes = self.scrapes();
        let offset = h * 37 % self.intervals.len();
        let mut times = vec![start];
        let mut k = offset;
        while let Some(&t) = times.last() {
            let next = t + self.intervals[k % self.intervals.len()];
            if next >= start + span {
                break;
            }
            times.push(next);
            k += 1;
        }
        // Back and forth through the recording: 0, 1, …, n-1, n-2, …, 1, 0, 1, …
        let period = 2 * (scrapes - 1);
        let position = |i: usize| {
            let p = (i + offset) % period;
            if p < scrapes {
                p
            } else {
                period - p
            }
        };
        self.series
            .iter()
            .map(|s| {
                let mut labels = s.labels.clone();
                labels.insert("instance".into(), format!("host-{h:02}:9100"));
                labels.insert("job".into(), "node".into());
                let samples = match &s.values {
                    Values::Gauge(values) => times
                        .iter()
                        .enumerate()
                        .filter_map(|(i, &t)| values[position(i)].map(|v| Sample::new(t, v)))
                        .collect(),
                    Values::Counter {
                        scale,
                        first,
                        increments,
                    } => {
                        let mut v = *first;
                        times
                            .iter()
                            .enumerate()
                            .map(|(i, &t)| {
                                if i > 0 && !increments.is_empty() {
                                    v += increments[(i - 1 + offset) % increments.len()];
                                }
                                // As an exporter prints it and a parser reads it.
                                let value: f64 = format!("{v}e-{scale}").parse().expect("decimal");
                                Sample::new(t, value)
                            })
                            .collect()
                    }
                };
                SeriesBatch::new(s.name.clone(), labels, samples)
            })
            .collect()
    }
}
