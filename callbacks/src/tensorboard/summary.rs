//! Building summary values: scalars, histograms with TensorFlow's default buckets, PNG
//! images, text, and the HParams plugin's records.

use std::sync::OnceLock;

use knob_core::{Domain, Params, SearchSpace, TrialState, Value as ParamValue};
use prost::Message;

use super::proto::*;

/// A scalar (old style, as Keras writes epoch metrics).
pub fn scalar(tag: &str, x: f64) -> Value {
    Value {
        tag: tag.into(),
        kind: Some(value::Kind::SimpleValue(x as f32)),
        metadata: None,
    }
}

/// TensorFlow's default histogram bucket limits: ±1.1^k from 1e-12 to 1e20, zero, and
/// ±DBL_MAX at the ends (1551 limits).
fn default_limits() -> &'static [f64] {
    static LIMITS: OnceLock<Vec<f64>> = OnceLock::new();
    LIMITS.get_or_init(|| {
        let mut positive = Vec::new();
        let mut v = 1e-12;
        while v < 1e20 {
            positive.push(v);
            v *= 1.1;
        }
        positive.push(f64::MAX);
        let mut limits: Vec<f64> = positive.iter().rev().map(|v| -v).collect();
        limits.push(0.0);
        limits.extend(positive);
        limits
    })
}

/// log2 of a positive, normal `x` to within 0.01: the exponent from the bits, and a
/// quadratic through the mantissa. Several times cheaper than `f64::log2`.
fn rough_log2(x: f64) -> f64 {
    let bits = x.to_bits();
    let exponent = ((bits >> 52) & 0x7ff) as i64 - 1023;
    let m = f64::from_bits((bits & 0x000f_ffff_ffff_ffff) | 0x3ff0_0000_0000_0000) - 1.0;
    exponent as f64 + m * (1.346_555 - 0.346_555 * m)
}

/// The bucket of `x`: the index of the first limit above it. The limits grow by 1.1
/// per step away from zero, so a logarithm lands within a step of the answer and a
/// short walk finishes it (a binary search per value cost 10x more on weight tensors).
fn bucket_of(limits: &[f64], x: f64) -> usize {
    let zero = limits.len() / 2; // limits[zero] == 0.0
    let guess = if x.abs() < 1e-12 {
        zero
    } else {
        // log base 1.1 of |x| / 1e-12.
        let k = ((rough_log2(x.abs()) + 39.863_137) * 7.272_540_9) as usize;
        if x > 0.0 {
            (zero + 1 + k).min(limits.len() - 1)
        } else {
            zero.saturating_sub(k + 1)
        }
    };
    walk(limits, guess, x)
}

/// The bucket of `x`, walking from `guess` (which must be close).
fn walk(limits: &[f64], guess: usize, x: f64) -> usize {
    let mut i = guess;
    while i > 0 && limits[i - 1] > x {
        i -= 1;
    }
    while i < limits.len() - 1 && limits[i] <= x {
        i += 1;
    }
    i
}

/// The bucket of a finite `f32`. A table indexed by the top 14 bits (sign, exponent and
/// 5 mantissa bits) holds the bucket of the smallest value sharing those bits; they
/// span at most 3%, less than a bucket's 10%, so one comparison (no branch) finishes.
fn bucket_of_f32(limits: &[f64], table: &[u16], x: f32) -> usize {
    let i = table[(x.to_bits() >> 18) as usize] as usize;
    // limits.last() is f64::MAX, which no f32 reaches: i + 1 stays in range.
    i + (x as f64 >= limits[i]) as usize
}

/// The table [`bucket_of_f32`] reads.
fn f32_bucket_table(limits: &[f64]) -> &'static [u16] {
    static TABLE: OnceLock<Vec<u16>> = OnceLock::new();
    TABLE.get_or_init(|| {
        (0u32..1 << 14)
            .map(|cell| {
                // Positive cells are smallest at their low bits, negative ones at
                // their high bits.
                let low_bits = if cell >> 13 == 1 { (1 << 18) - 1 } else { 0 };
                let v = f32::from_bits(cell << 18 | low_bits);
                let v = if v.is_finite() { v as f64 } else { 0.0 };
                bucket_of(limits, v) as u16
            })
            .collect()
    })
}

/// A histogram of `values` in TensorFlow's default buckets (old-style HistogramProto):
/// empty buckets at both ends dropped, inner runs of empty buckets merged into one.
/// Non-finite values are left out.
pub fn histogram(tag: &str, values: &[f32]) -> Value {
    let limits = default_limits();
    let table = f32_bucket_table(limits);
    let mut counts = vec![0u32; limits.len()];
    for &v in values {
        if v.is_finite() {
            counts[bucket_of_f32(limits, table, v)] += 1;
        }
    }
    // The moments in eight lanes, so the sums run in parallel; a non-finite value
    // adds nothing.
    let (mut mins, mut maxs) = ([f32::INFINITY; 8], [f32::NEG_INFINITY; 8]);
    let (mut sums, mut squares, mut finite) = ([0f64; 8], [0f64; 8], 0usize);
    let chunks = values.chunks_exact(8);
    let tail = chunks.remainder();
    for chunk in chunks.chain(tail.chunks(1)) {
        for (k, &v) in chunk.iter().enumerate() {
            let ok = v.is_finite();
            let x = if ok { v } else { 0.0 };
            sums[k] += x as f64;
            squares[k] += x as f64 * x as f64;
            mins[k] = if ok && v < mins[k] { v } else { mins[k] };
            maxs[k] = if ok && v > maxs[k] { v } else { maxs[k] };
            finite += ok as usize;
        }
    }
    let mut min = mins.into_iter().fold(f32::INFINITY, f32::min) as f64;
    let mut max = maxs.into_iter().fold(f32::NEG_INFINITY, f32::max) as f64;
    let (sum, sum_squares) = (sums.iter().sum::<f64>(), squares.iter().sum::<f64>());
    let num = finite as f64;
    let counts: Vec<f64> = counts.into_iter().map(f64::from).collect();
    let (mut bucket_limit, mut bucket) = (Vec::new(), Vec::new());
    if finite > 0 {
        let first = counts
            .iter()
            .position(|&c| c > 0.0)
            .expect("a non-empty bucket");
        let last = counts
            .iter()
            .rposition(|&c| c > 0.0)
            .expect("a non-empty bucket");
        for i in first..=last {
            if counts[i] == 0.0 && counts[i + 1] == 0.0 {
                continue; // part of a run of empties: the run keeps only its last limit
            }
            bucket_limit.push(limits[i]);
            bucket.push(counts[i]);
        }
    } else {
        (min, max) = (0.0, 0.0);
    }
    let histo = HistogramProto {
        min,
        max,
        num,
        sum,
        sum_squares,
        bucket_limit,
        bucket,
    };
    Value {
        tag: tag.into(),
        kind: Some(value::Kind::Histo(histo)),
        metadata: None,
    }
}

/// Encodes grey pixels in [0, 1] (row-major) as a PNG.
pub fn png_gray(pixels: &[f32], width: u32, height: u32) -> Vec<u8> {
    let bytes: Vec<u8> = pixels
        .iter()
        .map(|p| (p.clamp(0.0, 1.0) * 255.0).round() as u8)
        .collect();
    crate::plot::encode_png(&bytes, width, height, image::ColorType::L8)
        .expect("encoding a PNG into memory")
}

/// An image (old style) from a PNG and its true size; `colorspace` 1 is grey, 3 RGB, 4 RGBA.
pub fn image(tag: &str, png: Vec<u8>, width: u32, height: u32, colorspace: i32) -> Value {
    let image = Image {
        height: height as i32,
        width: width as i32,
        colorspace,
        encoded_image_string: png,
    };
    Value {
        tag: tag.into(),
        kind: Some(value::Kind::Image(image)),
        metadata: None,
    }
}

fn plugin(name: &str, content: Vec<u8>) -> Option<SummaryMetadata> {
    Some(SummaryMetadata {
        plugin_data: Some(PluginData {
            plugin_name: name.into(),
            content,
        }),
    })
}

/// Markdown text (a rank-0 string tensor for the text plugin).
pub fn text(tag: &str, text: &str) -> Value {
    let tensor = TensorProto {
        dtype: DT_STRING,
        tensor_shape: Some(TensorShape::default()),
        float_val: Vec::new(),
        string_val: vec![text.as_bytes().to_vec()],
    };
    Value {
        tag: tag.into(),
        kind: Some(value::Kind::Tensor(tensor)),
        metadata: plugin("text", Vec::new()),
    }
}

fn hparams_value(tag: &str, data: hparams_plugin_data::Data) -> Value {
    let content = HParamsPluginData {
        version: 0,
        data: Some(data),
    }
    .encode_to_vec();
    // TensorBoard's own writer attaches an empty float tensor; the readers accept it.
    let null = TensorProto {
        dtype: DT_FLOAT,
        tensor_shape: Some(TensorShape {
            dim: vec![Dim { size: 0 }],
        }),
        float_val: Vec::new(),
        string_val: Vec::new(),
    };
    Value {
        tag: tag.into(),
        kind: Some(value::Kind::Tensor(null)),
        metadata: plugin("hparams", content),
    }
}

fn pb(value: &ParamValue) -> PbValue {
    let kind = match value {
        ParamValue::Float(x) => pb_value::Kind::NumberValue(*x),
        ParamValue::Int(i) => pb_value::Kind::NumberValue(*i as f64),
        ParamValue::Bool(b) => pb_value::Kind::BoolValue(*b),
        ParamValue::Str(s) => pb_value::Kind::StringValue(s.clone()),
    };
    PbValue { kind: Some(kind) }
}

/// The HPARAMS table's metric columns for the epoch logs' `keys`: `val_x` is the
/// `validation` run's `epoch_x`, any other key `k` the `train` run's `epoch_k`. The
/// `objective` comes first (TensorBoard colours and sorts by the first metric), then
/// the validation metrics, then the training ones.
pub fn metrics<'a>(
    keys: impl IntoIterator<Item = &'a str>,
    objective: &str,
) -> Vec<(String, String, i32)> {
    let column = |key: &str| match key.strip_prefix("val_") {
        Some(metric) => ("validation".to_owned(), format!("epoch_{metric}"), 2),
        None => ("train".to_owned(), format!("epoch_{key}"), 1),
    };
    let mut keys: Vec<&str> = keys.into_iter().collect();
    keys.sort_by_key(|k| (*k != objective, !k.starts_with("val_"), *k));
    keys.dedup();
    keys.into_iter().map(column).collect()
}

/// The HParams experiment of a study over `space`: one column per parameter (numbers
/// with their interval, choices with their values) and one per metric of [`metrics`].
pub fn experiment(
    name: &str,
    space: &SearchSpace,
    metrics: &[(String, String, i32)],
    created: f64,
) -> Value {
    let hparam_infos = space
        .params()
        .iter()
        .map(|p| {
            let (r#type, domain) = match &p.domain {
                Domain::Float { low, high, .. } => (
                    HPARAM_FLOAT64,
                    h_param_info::Domain::DomainInterval(Interval {
                        min_value: *low,
                        max_value: *high,
                    }),
                ),
                Domain::Int { low, high, .. } => (
                    HPARAM_FLOAT64,
                    h_param_info::Domain::DomainInterval(Interval {
                        min_value: *low as f64,
                        max_value: *high as f64,
                    }),
                ),
                Domain::Categorical { choices } => {
                    let all_bool = choices.iter().all(|c| matches!(c, ParamValue::Bool(_)));
                    let all_num = choices
                        .iter()
                        .all(|c| matches!(c, ParamValue::Int(_) | ParamValue::Float(_)));
                    let kind = if all_bool {
                        HPARAM_BOOL
                    } else if all_num {
                        HPARAM_FLOAT64
                    } else {
                        HPARAM_STRING
                    };
                    let values = choices
                        .iter()
                        .map(|c| {
                            if kind == HPARAM_STRING {
                                pb(&ParamValue::Str(c.to_string()))
                            } else {
                                pb(c)
                            }
                        })
                        .collect();
                    (
                        kind,
                        h_param_info::Domain::DomainDiscrete(ListValue { values }),
                    )
                }
            };
            // A conditional parameter has no value in some trials: it is declared as
            // a string without a domain, and each session writes its value as text
            // or `INACTIVE` (see `session_start`).
            if p.when.is_some() {
                return HParamInfo {
                    name: p.name.clone(),
                    r#type: HPARAM_STRING,
                    domain: None,
                    differs: true,
                };
            }
            HParamInfo {
                name: p.name.clone(),
                r#type,
                domain: Some(domain),
                differs: true,
            }
        })
        .collect();
    let metric_infos = metrics
        .iter()
        .map(|(group, tag, kind)| MetricInfo {
            name: Some(MetricName {
                group: group.clone(),
                tag: tag.clone(),
            }),
            dataset_type: *kind,
        })
        .collect();
    let experiment = Experiment {
        description: String::new(),
        time_created_secs: created,
        hparam_infos,
        metric_infos,
        name: name.into(),
    };
    hparams_value(
        "_hparams_/experiment",
        hparams_plugin_data::Data::Experiment(experiment),
    )
}

/// What the HParams dashboard shows for a conditional parameter in a trial where it is
/// inactive: TensorBoard wants a value for every declared hyperparameter.
pub const INACTIVE: &str = "inactive";

/// A trial's session start: its hyperparameters, grouped under its own name. Mixed
/// categorical choices are written as strings, as the experiment declares them; so are
/// the values of conditional parameters, and [`INACTIVE`] where one is inactive.
pub fn session_start(
    group: &str,
    params: &Params,
    space: Option<&SearchSpace>,
    started: f64,
) -> Value {
    let mut hparams: std::collections::BTreeMap<String, PbValue> = params
        .iter()
        .map(|(name, v)| {
            let as_string = space.and_then(|s| s.param(name)).is_some_and(|(_, p)| {
                p.when.is_some()
                    || match &p.domain {
                        Domain::Categorical { choices } => {
                            !choices.iter().all(|c| matches!(c, ParamValue::Bool(_)))
                                && !choices
                                    .iter()
                                    .all(|c| matches!(c, ParamValue::Int(_) | ParamValue::Float(_)))
                        }
                        _ => false,
                    }
            });
            let value = match v {
                ParamValue::Float(x) if as_string => {
                    pb(&ParamValue::Str(knob_core::format_number(*x)))
                }
                v if as_string => pb(&ParamValue::Str(v.to_string())),
                v => pb(v),
            };
            (name.to_owned(), value)
        })
        .collect();
    for p in space.map_or(&[][..], |s| s.params()) {
        if p.when.is_some() && params.get(&p.name).is_none() {
            hparams.insert(p.name.clone(), pb(&ParamValue::Str(INACTIVE.into())));
        }
    }
    let start = SessionStartInfo {
        hparams,
        group_name: group.into(),
        start_time_secs: started,
    };
    hparams_value(
        "_hparams_/session_start_info",
        hparams_plugin_data::Data::SessionStartInfo(start),
    )
}

/// A trial's session end, with the status its state maps to: complete is success,
/// failed (an error, a panic, an interrupted run queued again) is failure, and pruned
/// is unknown (stopped early by the pruner: neither), so that TensorBoard's status
/// filter can show finished trials alone.
pub fn session_end(state: TrialState, ended: f64) -> Value {
    let status = match state {
        TrialState::Complete => STATUS_SUCCESS,
        TrialState::Failed => STATUS_FAILURE,
        TrialState::Pruned => STATUS_UNKNOWN,
        TrialState::Running => STATUS_RUNNING,
    };
    hparams_value(
        "_hparams_/session_end_info",
        hparams_plugin_data::Data::SessionEndInfo(SessionEndInfo {
            status,
            end_time_secs: ended,
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        s.split_whitespace()
            .map(|b| u8::from_str_radix(b, 16).unwrap())
            .collect()
    }

    #[test]
    fn default_buckets_have_tensorflows_shape() {
        let limits = default_limits();
        assert_eq!(limits.len(), 1551);
        assert_eq!(
            (limits[0], limits[775], limits[1550]),
            (-f64::MAX, 0.0, f64::MAX)
        );
        assert_eq!(limits[776], 1e-12);
    }

    #[test]
    fn the_f32_table_lookup_agrees_with_a_binary_search() {
        let limits = default_limits();
        let mut probes: Vec<f32> = vec![
            0.0,
            -0.0,
            f32::MIN_POSITIVE,
            1e-45,
            -1e-45,
            f32::MAX,
            f32::MIN,
        ];
        probes.extend(limits.iter().filter(|l| l.abs() < 3e38).map(|&l| l as f32));
        // Every 997th bit pattern: all exponents, signs and many mantissas.
        probes.extend(
            (0..u32::MAX / 997)
                .map(|k| f32::from_bits(k * 997))
                .filter(|v| v.is_finite()),
        );
        for v in probes {
            let expected = limits
                .partition_point(|&l| l <= v as f64)
                .min(limits.len() - 1);
            assert_eq!(
                bucket_of_f32(limits, f32_bucket_table(limits), v),
                expected,
                "x = {v:e}"
            );
        }
    }

    #[test]
    fn the_fast_bucket_lookup_agrees_with_a_binary_search() {
        let limits = default_limits();
        let mut x = -1e21f64;
        let probes = [
            0.0,
            1e-12,
            -1e-12,
            0.5,
            1.0,
            1.1,
            -1.0,
            3.7e5,
            -2.2e-7,
            9.9e19,
            1e20,
            -1e25,
            f64::MIN_POSITIVE,
        ];
        for &v in probes.iter().chain(
            std::iter::from_fn(|| {
                x = if x < 0.0 {
                    x / 3.7 + 1e-13
                } else {
                    x * 3.7 + 1e-13
                };
                (x < 1e21).then_some(x)
            })
            .take(200)
            .collect::<Vec<_>>()
            .iter(),
        ) {
            let expected = limits.partition_point(|&l| l <= v).min(limits.len() - 1);
            assert_eq!(bucket_of(limits, v), expected, "x = {v}");
        }
        for l in limits
            .iter()
            .copied()
            .filter(|l| l.is_finite() && l.abs() < f64::MAX)
        {
            let expected = limits.partition_point(|&m| m <= l).min(limits.len() - 1);
            assert_eq!(bucket_of(limits, l), expected, "a limit itself: {l}");
        }
    }

    #[test]
    fn histograms_trim_and_merge_empty_buckets() {
        let Value {
            kind: Some(value::Kind::Histo(h)),
            ..
        } = histogram("w", &[0.5, 1.5, 1.5, 100.0])
        else {
            panic!("not a histogram")
        };
        assert_eq!((h.min, h.max, h.num, h.sum), (0.5, 100.0, 4.0, 103.5));
        assert_eq!(h.bucket.iter().sum::<f64>(), 4.0);
        assert!(*h.bucket.first().unwrap() > 0.0 && *h.bucket.last().unwrap() > 0.0);
        assert!(
            h.bucket.windows(2).all(|w| w[0] > 0.0 || w[1] > 0.0),
            "no two empty buckets in a row"
        );
        assert!(h.bucket_limit.windows(2).all(|w| w[0] < w[1]));
        // Every value sits below its bucket's limit and above the previous one.
        assert!(h.bucket_limit[0] > 0.5 && *h.bucket_limit.last().unwrap() > 100.0);
    }

    #[test]
    fn text_and_hparams_match_the_reference_bytes() {
        assert_eq!(
            text("notes", "hi").encode_to_vec(),
            hex("0a 05 6e 6f 74 65 73 42 08 08 07 12 00 42 02 68 69 4a 08 0a 06 0a 04 74 65 78 74")
        );
        let params = Params::from_iter([("lr", 0.1.into())]);
        let start = HParamsPluginData {
            version: 0,
            data: Some(hparams_plugin_data::Data::SessionStartInfo(
                SessionStartInfo {
                    hparams: params.iter().map(|(n, v)| (n.to_owned(), pb(v))).collect(),
                    group_name: "t0".into(),
                    start_time_secs: 0.0,
                },
            )),
        };
        assert_eq!(
            start.encode_to_vec(),
            hex("1a 15 0a 0f 0a 02 6c 72 12 09 11 9a 99 99 99 99 99 b9 3f 22 02 74 30")
        );
        let mut end = session_end(TrialState::Complete, 0.0).encode_to_vec();
        let mut golden = vec![0x0a, 0x1a];
        golden.extend_from_slice(b"_hparams_/session_end_info");
        golden.extend(hex("42 06 08 01 12 02 12 00 4a 11 0a 0f 0a 07"));
        golden.extend_from_slice(b"hparams");
        golden.extend(hex("12 04 22 02 08 01"));
        end.truncate(golden.len());
        assert_eq!(end, golden);
    }

    #[test]
    fn conditional_parameters_are_strings_and_inactive_ones_say_so() {
        let space = SearchSpace::builder()
            .categorical("optimizer", ["adam", "sgd"])
            .float("momentum", 0.5, 0.99, knob_core::Scale::Linear)
            .when_in("optimizer", ["sgd"])
            .build()
            .unwrap();
        let decode = |v: Value| {
            let content = v.metadata.unwrap().plugin_data.unwrap().content;
            HParamsPluginData::decode(&content[..])
                .unwrap()
                .data
                .unwrap()
        };
        let columns = metrics(["loss", "val_f1", "accuracy", "val_loss"], "val_f1");
        let hparams_plugin_data::Data::Experiment(e) =
            decode(experiment("e", &space, &columns, 0.0))
        else {
            panic!("an experiment")
        };
        assert_eq!(
            (e.hparam_infos[1].r#type, &e.hparam_infos[1].domain),
            (HPARAM_STRING, &None)
        );
        // The objective first, then validation, then training metrics.
        let names: Vec<(String, String)> = e
            .metric_infos
            .iter()
            .map(|m| {
                let n = m.name.clone().unwrap();
                (n.group, n.tag)
            })
            .collect();
        let expected = [
            ("validation", "epoch_f1"),
            ("validation", "epoch_loss"),
            ("train", "epoch_accuracy"),
            ("train", "epoch_loss"),
        ]
        .map(|(g, t)| (g.to_owned(), t.to_owned()));
        assert_eq!(names, expected);
        let session = |params: Params| match decode(session_start("t", &params, Some(&space), 0.0))
        {
            hparams_plugin_data::Data::SessionStartInfo(s) => s.hparams["momentum"].clone(),
            _ => panic!("a session start"),
        };
        let adam = Params::from_iter([("optimizer", "adam".into())]);
        assert_eq!(session(adam), pb(&ParamValue::Str(INACTIVE.into())));
        let sgd = Params::from_iter([("optimizer", "sgd".into()), ("momentum", 0.95.into())]);
        assert_eq!(session(sgd), pb(&ParamValue::Str("0.95".into())));
    }
}
