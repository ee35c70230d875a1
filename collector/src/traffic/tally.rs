//! Access log lines → per-service counters and histograms. Memory is
//! bounded by what the host runs, never by the traffic: one entry per
//! service this host serves (lines naming any other are skipped), at most
//! 500 status codes each, and fixed histogram buckets. Nothing is kept per
//! path or per client.

use super::line::{self, Skip};
use crate::output::Output;
use std::collections::{BTreeMap, HashMap, HashSet};

/// Request and upstream time buckets (seconds): from a fast cached answer
/// to a slow upload; nginx's default proxy timeout is 60 s.
pub const BUCKETS: [f64; 13] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Histogram {
    /// Per bucket, not cumulative; the last is above every bound.
    counts: [u64; BUCKETS.len() + 1],
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, v: f64) {
        self.counts[BUCKETS.partition_point(|b| *b < v)] += 1;
        self.sum += v;
        self.count += 1;
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    /// (le, cumulative count), ending with `+Inf`.
    pub fn cumulative(&self) -> impl Iterator<Item = (String, u64)> + '_ {
        let mut acc = 0;
        self.counts.iter().enumerate().map(move |(i, c)| {
            acc += c;
            let le = BUCKETS
                .get(i)
                .map_or_else(|| "+Inf".to_string(), f64::to_string);
            (le, acc)
        })
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServiceTally {
    pub codes: BTreeMap<u16, u64>,
    pub bytes: u64,
    pub request: Histogram,
    pub upstream: Histogram,
}

#[derive(Debug, Default)]
pub struct Tally {
    services: HashMap<String, ServiceTally>,
    known: HashSet<String>,
    skipped: [u64; Skip::ALL.len()],
    lines: u64,
}

impl Tally {
    /// The services this host runs now; the others' counts go (their
    /// series then go stale).
    pub fn set_known(&mut self, names: impl IntoIterator<Item = String>) {
        self.known = names.into_iter().collect();
        let known = &self.known;
        self.services.retain(|name, _| known.contains(name));
        // Every service has its series from the start (zero requests is
        // a figure, and "no requests for N minutes" needs a series).
        for name in &self.known {
            self.services.entry(name.clone()).or_default();
        }
    }

    /// Reads and counts one line.
    pub fn line(&mut self, raw: &[u8]) {
        self.read_one();
        match line::parse(raw) {
            Ok(hit) => self.hit(&hit),
            Err(why) => self.skip(why),
        }
    }

    /// One more line read, whatever becomes of it.
    pub fn read_one(&mut self) {
        self.lines += 1;
    }

    pub fn skip(&mut self, why: Skip) {
        self.skipped[why as usize] += 1;
    }

    /// Counts a parsed line for its service (or says why not).
    pub fn hit(&mut self, hit: &line::Hit) {
        if let Err(why) = self.count(hit) {
            self.skip(why);
        }
    }

    fn count(&mut self, hit: &line::Hit) -> Result<(), Skip> {
        if hit.service.is_empty() {
            return Err(Skip::NoService);
        }
        if hit.user_agent == crate::probes::user_agent() {
            return Err(Skip::Probe);
        }
        let entry = match self.services.get_mut(hit.service.as_ref()) {
            Some(e) => e,
            None if self.known.contains(hit.service.as_ref()) => {
                self.services.entry(hit.service.to_string()).or_default()
            }
            None => return Err(Skip::UnknownService),
        };
        *entry.codes.entry(hit.status).or_default() += 1;
        entry.bytes += hit.bytes;
        entry.request.observe(hit.request_time);
        if let Some(up) = line::upstream_seconds(&hit.upstream_time) {
            entry.upstream.observe(up);
        }
        Ok(())
    }

    pub fn service(&self, name: &str) -> Option<&ServiceTally> {
        self.services.get(name)
    }

    pub fn lines(&self) -> u64 {
        self.lines
    }

    pub fn skipped(&self, why: Skip) -> u64 {
        self.skipped[why as usize]
    }

    /// Every series as of now into `out`. A series met for the first time
    /// gets a zero at `since_ms` (the previous emission), so `increase()`
    /// counts its first requests; `seen` remembers which were met.
    pub fn emit(&self, out: &mut Output, seen: &mut HashSet<String>, since_ms: i64) {
        let mut put = |out: &mut Output, name: &str, labels: &[(&str, &str)], v: f64| {
            let key = format!("{name}{labels:?}");
            if seen.contains(&key) {
                out.push(name, labels, v);
            } else {
                out.push_from_zero(name, labels, since_ms, v);
                seen.insert(key);
            }
        };
        let mut names: Vec<&String> = self.services.keys().collect();
        names.sort();
        for name in names {
            let t = &self.services[name];
            let service = name.as_str();
            for (code, n) in &t.codes {
                let code = code.to_string();
                put(
                    out,
                    "dozor_http_requests_total",
                    &[("service", service), ("code", &code)],
                    *n as f64,
                );
            }
            put(
                out,
                "dozor_http_response_bytes_total",
                &[("service", service)],
                t.bytes as f64,
            );
            for (family, h) in [
                ("dozor_http_request_duration_seconds", &t.request),
                ("dozor_http_upstream_duration_seconds", &t.upstream),
            ] {
                for (le, n) in h.cumulative() {
                    put(
                        out,
                        &format!("{family}_bucket"),
                        &[("service", service), ("le", &le)],
                        n as f64,
                    );
                }
                put(
                    out,
                    &format!("{family}_sum"),
                    &[("service", service)],
                    h.sum,
                );
                put(
                    out,
                    &format!("{family}_count"),
                    &[("service", service)],
                    h.count as f64,
                );
            }
        }
        put(out, "dozor_http_log_lines_total", &[], self.lines as f64);
        for why in Skip::ALL {
            put(
                out,
                "dozor_http_log_lines_skipped_total",
                &[("reason", why.as_str())],
                self.skipped(why) as f64,
            );
        }
    }
}

impl super::follow::Lines for Tally {
    fn line(&mut self, l: &[u8]) {
        Tally::line(self, l);
    }

    /// A line the follower could not even hand over (too long, or cut at
    /// the end of a rotated file) is still a line read.
    fn skip(&mut self, why: Skip) {
        self.read_one();
        Tally::skip(self, why);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(service: &str, status: u16, t: f64, up: &str) -> String {
        format!(
            r#"{{"service":"{service}","client":"127.0.0.2","path":"/","status":{status},"bytes":10,"request_time":{t},"upstream_time":"{up}"}}"#
        )
    }

    #[test]
    fn counts_per_service_and_code_with_histograms() {
        let mut t = Tally::default();
        t.set_known(["app".to_string(), "api".to_string()]);
        for _ in 0..3 {
            t.line(line("app", 200, 0.003, "0.002").as_bytes());
        }
        t.line(line("app", 502, 0.5, "").as_bytes());
        t.line(line("api", 200, 100.0, "0.01, 0.02").as_bytes());
        t.line(line("other", 200, 0.1, "").as_bytes());
        t.line(b"{not json");
        let app = t.service("app").unwrap();
        assert_eq!(app.codes, BTreeMap::from([(200, 3), (502, 1)]));
        assert_eq!(app.bytes, 40);
        assert_eq!(app.request.count(), 4);
        assert_eq!(app.upstream.count(), 3, "the 502 had no upstream time");
        let le: Vec<(String, u64)> = app.request.cumulative().collect();
        assert_eq!(le[0], ("0.005".to_string(), 3));
        assert_eq!(le[6], ("0.5".to_string(), 4), "le is inclusive");
        assert_eq!(le.last().unwrap(), &("+Inf".to_string(), 4));
        let api = t.service("api").unwrap();
        let le: Vec<(String, u64)> = api.request.cumulative().collect();
        assert_eq!(le[12], ("60".to_string(), 0));
        assert_eq!(le[13], ("+Inf".to_string(), 1));
        assert_eq!(t.lines(), 7);
        assert_eq!(t.skipped(Skip::UnknownService), 1);
        assert_eq!(t.skipped(Skip::Malformed), 1);

        let mut out = Output::new(2_000);
        let mut seen = HashSet::new();
        t.emit(&mut out, &mut seen, 1_000);
        let reqs = out
            .series()
            .iter()
            .find(|s| s.name == "dozor_http_requests_total" && s.labels["code"] == "502")
            .unwrap();
        assert_eq!(reqs.samples.len(), 2, "a zero before the first value");
        assert_eq!((reqs.samples[0].value, reqs.samples[1].value), (0.0, 1.0));
        let mut again = Output::new(3_000);
        t.emit(&mut again, &mut seen, 2_000);
        assert!(again.series().iter().all(|s| s.samples.len() == 1));

        t.line(line("", 404, 0.1, "").as_bytes());
        assert_eq!(t.skipped(Skip::NoService), 1);
        // This agent's probes are not traffic; a client calling itself a
        // probe is.
        let probe = line("app", 200, 0.1, "").replace(
            "\"upstream_time\"",
            &format!(
                "\"user_agent\":\"{}\",\"upstream_time\"",
                crate::probes::user_agent()
            ),
        );
        t.line(probe.as_bytes());
        assert_eq!(t.skipped(Skip::Probe), 1);
        let fake = line("app", 200, 0.1, "").replace(
            "\"upstream_time\"",
            "\"user_agent\":\"dozor-probe\",\"upstream_time\"",
        );
        t.line(fake.as_bytes());
        assert_eq!(t.service("app").unwrap().codes[&200], 4);
        t.set_known(["api".to_string(), "new".to_string()]);
        assert!(t.service("app").is_none(), "a removed service's counts go");
        assert_eq!(
            t.service("new").unwrap().request.count(),
            0,
            "a series from the start"
        );
    }
}
