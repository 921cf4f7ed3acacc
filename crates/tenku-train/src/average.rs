//! An exponential moving average of a module's weights ([`StageConfig::ema_decay`]).
//!
//! [`StageConfig::ema_decay`]: crate::StageConfig::ema_decay

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::tensor::Tensor;

/// `average` moved towards `model`: every float parameter becomes
/// `decay · average + (1 − decay) · model`, detached from the autodiff graph.
///
/// The two must be the same module type built from the same configuration (the average starts
/// as a copy of the model), so their parameters pair up in visiting order.
pub(crate) fn moved_towards<M: Module>(average: M, model: &M, decay: f64) -> M {
    let mut values = FloatValues(Vec::new());
    model.visit(&mut values);
    let mut mapper = Towards { targets: values.0.into_iter(), decay };
    let average = average.map(&mut mapper);
    debug_assert!(mapper.targets.next().is_none(), "the average has every parameter of the model");
    average
}

/// Collects a module's float parameters, flattened and detached, in visiting order.
struct FloatValues(Vec<Tensor<1>>);

impl ModuleVisitor for FloatValues {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.0.push(param.val().detach().flatten(0, D - 1));
    }
}

/// Moves each float parameter towards the next of `targets`.
struct Towards {
    targets: std::vec::IntoIter<Tensor<1>>,
    decay: f64,
}

impl ModuleMapper for Towards {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let target = self.targets.next().expect("the average has the model's parameters");
        let decay = self.decay;
        param.map(|average| {
            let target = target.reshape(average.dims());
            (average.detach().mul_scalar(decay) + target.mul_scalar(1.0 - decay)).detach()
        })
    }
}

#[cfg(test)]
mod tests {
    use burn::nn::{Linear, LinearConfig};
    use burn::tensor::{Device, TensorData, Tolerance};

    use super::*;

    fn linear(weight: [[f32; 2]; 2], device: &Device) -> Linear {
        let mut linear = LinearConfig::new(2, 2).init(device);
        linear.weight = Param::from_tensor(Tensor::from_data(TensorData::from(weight), device));
        linear.bias = Some(Param::from_tensor(Tensor::from_data(TensorData::from([1.0f32, -1.0]), device)));
        linear
    }

    #[test]
    fn each_parameter_moves_by_one_minus_the_decay() {
        let device = Device::default();
        let average = linear([[0.0, 0.0], [0.0, 4.0]], &device);
        let model = linear([[8.0, -8.0], [2.0, 0.0]], &device);
        let moved = moved_towards(average, &model, 0.75);
        let weight = moved.weight.val().into_data();
        weight.assert_approx_eq::<f32>(&TensorData::from([[2.0f32, -2.0], [0.5, 3.0]]), Tolerance::default());
        let bias = moved.bias.expect("a bias").val().into_data();
        bias.assert_approx_eq::<f32>(&TensorData::from([1.0f32, -1.0]), Tolerance::default());
    }
}
