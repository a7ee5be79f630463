//! Pareto fronts of several objectives: dominance, non-dominated sorting, crowding
//! distance and hypervolume. Every function takes losses (smaller is better in every
//! coordinate): turn a maximized objective into a loss by negating it first.

/// Whether `a` dominates `b`: no worse in every objective and better in one.
pub fn dominates(a: &[f64], b: &[f64]) -> bool {
    debug_assert_eq!(a.len(), b.len());
    a.iter().zip(b).all(|(x, y)| x <= y) && a.iter().zip(b).any(|(x, y)| x < y)
}

/// The front of each point by non-dominated sorting (Deb et al., 2002): 0 for the
/// points no other dominates, 1 for those dominated only by front 0, and so on.
pub fn fronts(points: &[Vec<f64>]) -> Vec<usize> {
    let n = points.len();
    let mut dominated_by = vec![0usize; n];
    let mut dominates_list: Vec<Vec<usize>> = vec![Vec::new(); n];
    for i in 0..n {
        for j in i + 1..n {
            if dominates(&points[i], &points[j]) {
                dominates_list[i].push(j);
                dominated_by[j] += 1;
            } else if dominates(&points[j], &points[i]) {
                dominates_list[j].push(i);
                dominated_by[i] += 1;
            }
        }
    }
    let mut rank = vec![0usize; n];
    let mut current: Vec<usize> = (0..n).filter(|&i| dominated_by[i] == 0).collect();
    let mut level = 0;
    while !current.is_empty() {
        let mut next = Vec::new();
        for &i in &current {
            rank[i] = level;
            for &j in &dominates_list[i] {
                dominated_by[j] -= 1;
                if dominated_by[j] == 0 {
                    next.push(j);
                }
            }
        }
        current = next;
        level += 1;
    }
    rank
}

/// The indices of the non-dominated points, in input order.
pub fn pareto_front(points: &[Vec<f64>]) -> Vec<usize> {
    (0..points.len())
        .filter(|&i| !points.iter().any(|q| dominates(q, &points[i])))
        .collect()
}

/// The crowding distance of each of `points` (one front): per objective, the gap
/// between its two neighbours over the objective's range, summed; the extremes of any
/// objective get infinity, so they are always kept.
pub fn crowding_distance(points: &[Vec<f64>]) -> Vec<f64> {
    let n = points.len();
    let mut distance = vec![0.0; n];
    if n == 0 {
        return distance;
    }
    // `m` picks a coordinate of every point, not a point.
    #[allow(clippy::needless_range_loop)]
    for m in 0..points[0].len() {
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&a, &b| points[a][m].total_cmp(&points[b][m]));
        let (low, high) = (points[order[0]][m], points[order[n - 1]][m]);
        distance[order[0]] = f64::INFINITY;
        distance[order[n - 1]] = f64::INFINITY;
        if high > low {
            for k in 1..n.saturating_sub(1) {
                let gap = points[order[k + 1]][m] - points[order[k - 1]][m];
                distance[order[k]] += gap / (high - low);
            }
        }
    }
    distance
}

/// The hypervolume of the region that `points` dominate and that dominates
/// `reference`: the standard measure of a front's quality (larger is better). Points
/// that do not dominate the reference add nothing.
///
/// Exact for any number of objectives: two by one sweep (O(n log n)), more by slicing
/// along the last objective and summing the slices' hypervolumes one dimension down
/// (O(n^(m-1)) for m objectives, so fine for three and small fronts of four or five).
///
/// ```
/// use knob_core::pareto::hypervolume;
/// let front = [vec![1.0, 3.0], vec![2.0, 2.0], vec![3.0, 1.0]];
/// assert_eq!(hypervolume(&front, &[4.0, 4.0]), 6.0);
/// ```
pub fn hypervolume(points: &[Vec<f64>], reference: &[f64]) -> f64 {
    let inside: Vec<&[f64]> = points
        .iter()
        .map(Vec::as_slice)
        .filter(|p| p.len() == reference.len() && p.iter().zip(reference).all(|(x, r)| x < r))
        .collect();
    volume(inside, reference)
}

fn volume(mut points: Vec<&[f64]>, reference: &[f64]) -> f64 {
    let m = reference.len();
    if points.is_empty() || m == 0 {
        return 0.0;
    }
    if m == 1 {
        let best = points.iter().map(|p| p[0]).fold(f64::INFINITY, f64::min);
        return reference[0] - best;
    }
    if m == 2 {
        points.sort_by(|a, b| a[0].total_cmp(&b[0]).then(a[1].total_cmp(&b[1])));
        let (mut area, mut ceiling) = (0.0, reference[1]);
        for p in points {
            if p[1] < ceiling {
                area += (reference[0] - p[0]) * (ceiling - p[1]);
                ceiling = p[1];
            }
        }
        return area;
    }
    // Slices between consecutive values of the last objective: in each, the points at
    // or below its lower edge, projected one dimension down.
    points.sort_by(|a, b| a[m - 1].total_cmp(&b[m - 1]));
    let mut total = 0.0;
    for k in 0..points.len() {
        let bottom = points[k][m - 1];
        let top = points.get(k + 1).map_or(reference[m - 1], |p| p[m - 1]);
        if top > bottom {
            let slice: Vec<&[f64]> = points[..=k].iter().map(|p| &p[..m - 1]).collect();
            total += (top - bottom) * volume(slice, &reference[..m - 1]);
        }
    }
    total
}

/// How much hypervolume each of `points` alone adds: the front's hypervolume minus
/// that of the front without it (0 for a dominated point).
pub fn contributions(points: &[Vec<f64>], reference: &[f64]) -> Vec<f64> {
    let all = hypervolume(points, reference);
    (0..points.len())
        .map(|i| {
            let rest: Vec<Vec<f64>> = points
                .iter()
                .enumerate()
                .filter(|&(j, _)| j != i)
                .map(|(_, p)| p.clone())
                .collect();
            all - hypervolume(&rest, reference)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dominance_and_fronts_by_hand() {
        assert!(dominates(&[1.0, 2.0], &[1.0, 3.0]));
        assert!(
            !dominates(&[1.0, 2.0], &[1.0, 2.0]),
            "equal points do not dominate"
        );
        assert!(!dominates(&[1.0, 3.0], &[2.0, 2.0]));
        let points = vec![
            vec![1.0, 4.0], // front 0
            vec![2.0, 2.0], // front 0
            vec![4.0, 1.0], // front 0
            vec![3.0, 3.0], // dominated by (2, 2): front 1
            vec![4.0, 4.0], // dominated by (3, 3): front 2
            vec![2.0, 2.0], // a duplicate: front 0
        ];
        assert_eq!(fronts(&points), vec![0, 0, 0, 1, 2, 0]);
        assert_eq!(pareto_front(&points), vec![0, 1, 2, 5]);
    }

    #[test]
    fn crowding_keeps_the_extremes_and_ranks_the_lonely() {
        let front = vec![
            vec![0.0, 4.0],
            vec![1.0, 3.0],
            vec![3.0, 1.0],
            vec![4.0, 0.0],
        ];
        let d = crowding_distance(&front);
        assert!(d[0].is_infinite() && d[3].is_infinite());
        // (1, 3): neighbours 0 and 3 apart in x (3/4) and 4 and 1 in y (3/4).
        assert!(
            (d[1] - 1.5).abs() < 1e-12 && (d[2] - 1.5).abs() < 1e-12,
            "{d:?}"
        );
    }

    #[test]
    fn hypervolume_by_hand() {
        let r2 = [4.0, 4.0];
        // Three steps: 1x1 + 1x2 + 1x3.
        let front = vec![vec![1.0, 3.0], vec![2.0, 2.0], vec![3.0, 1.0]];
        assert_eq!(hypervolume(&front, &r2), 6.0);
        // A dominated point and one outside the reference change nothing.
        let mut more = front.clone();
        more.push(vec![3.0, 3.0]);
        more.push(vec![0.5, 5.0]);
        assert_eq!(hypervolume(&more, &r2), 6.0);
        assert_eq!(contributions(&front, &r2), vec![1.0, 1.0, 1.0]);
        // 3-D: the unit corner box of (0,0,0) in a 2x2x2 reference is 8; two boxes
        // (0,1,1) and (1,0,0): 2·1·1 + 1·2·2 - overlap 1·1·1 = 5.
        let r3 = [2.0, 2.0, 2.0];
        assert_eq!(hypervolume(&[vec![0.0, 0.0, 0.0]], &r3), 8.0);
        let two = [vec![0.0, 1.0, 1.0], vec![1.0, 0.0, 0.0]];
        assert_eq!(hypervolume(&two, &r3), 5.0);
        // 4-D: one point's box.
        assert_eq!(hypervolume(&[vec![0.5; 4]], &[1.0; 4]), 0.0625);
    }

    #[test]
    fn hypervolume_matches_monte_carlo_on_a_random_3d_front() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(4);
        let points: Vec<Vec<f64>> = (0..12)
            .map(|_| (0..3).map(|_| rng.gen::<f64>()).collect())
            .collect();
        let exact = hypervolume(&points, &[1.0, 1.0, 1.0]);
        let samples = 200_000;
        let hits = (0..samples)
            .filter(|_| {
                let z: Vec<f64> = (0..3).map(|_| rng.gen::<f64>()).collect();
                points.iter().any(|p| p.iter().zip(&z).all(|(a, b)| a <= b))
            })
            .count();
        let estimate = hits as f64 / samples as f64;
        assert!(
            (exact - estimate).abs() < 0.005,
            "exact {exact}, Monte Carlo {estimate}"
        );
    }
}
