//! Copies of device tensors on the host, for logging and checkpoints: a leaf module
//! that the network and its optimizer both read through.

use dfdx::prelude::*;

/// A tensor's values on the host, copied in one piece (dfdx's `as_vec` walks the
/// tensor element by element, which showed up in every epoch's logging). The tensor
/// must own contiguous data, as every tensor the network keeps does.
pub(crate) fn to_host<S: Shape, D: Device<f32>, T>(t: &Tensor<S, f32, D, T>) -> Vec<f32> {
    let mut out = vec![0.0; t.shape().num_elements()];
    t.copy_into(&mut out);
    out
}
