//! Random valid captions.

use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::attributes::{Background, Colour, Direction, Motion, Shape, Size, Speed};
use crate::scene::{ObjectSpec, SceneSpec};

impl SceneSpec {
    /// A random valid spec.
    ///
    /// Distribution: white background with p = 0.25; one object with p = 0.6, else two; a pillar
    /// with p = 0.25 when there is one object (its motion is then `Moves(Left | Right,
    /// Speed::Default)`, uniform over the two directions). Per object: size, shape and colour uniform
    /// (colours distinct, no white on white); motion still with p = 0.2, else uniform direction and
    /// uniform speed.
    pub fn random(rng: &mut impl Rng) -> SceneSpec {
        let background = if rng.random_bool(0.25) { Background::White } else { Background::Black };
        let count = if rng.random_bool(0.6) { 1 } else { 2 };
        let pillar = count == 1 && rng.random_bool(0.25);
        let mut objects: Vec<ObjectSpec> = Vec::with_capacity(count);
        for _ in 0..count {
            let allowed: Vec<Colour> = Colour::ALL
                .into_iter()
                .filter(|colour| !(background == Background::White && *colour == Colour::White))
                .filter(|colour| objects.iter().all(|object| object.colour != *colour))
                .collect();
            let colour = *allowed.choose(rng).unwrap_or(&Colour::Red);
            let shape = *Shape::ALL.choose(rng).unwrap_or(&Shape::Circle);
            let size = *Size::ALL.choose(rng).unwrap_or(&Size::Default);
            let motion = if pillar { random_pillar_motion(rng) } else { random_motion(rng) };
            objects.push(ObjectSpec { colour, shape, size, motion });
        }
        SceneSpec { objects, pillar, background }
    }
}

/// `n` random specs from `ChaCha8Rng::seed_from_u64(seed)`, as [`SceneSpec::random`] draws them.
pub fn random_captions(n: usize, seed: u64) -> Vec<SceneSpec> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n).map(|_| SceneSpec::random(&mut rng)).collect()
}

fn random_motion(rng: &mut impl Rng) -> Motion {
    if rng.random_bool(0.2) {
        return Motion::Still;
    }
    let direction = *Direction::ALL.choose(rng).unwrap_or(&Direction::Right);
    let speed = *Speed::ALL.choose(rng).unwrap_or(&Speed::Default);
    Motion::Moves(direction, speed)
}

fn random_pillar_motion(rng: &mut impl Rng) -> Motion {
    let direction = if rng.random_bool(0.5) { Direction::Left } else { Direction::Right };
    Motion::Moves(direction, Speed::Default)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_specs_are_valid_and_cover_the_world() {
        let specs = random_captions(2000, 11);
        assert!(specs.iter().all(|spec| spec.validate().is_ok()));
        let share = |predicate: &dyn Fn(&SceneSpec) -> bool| {
            specs.iter().filter(|spec| predicate(spec)).count() as f32 / specs.len() as f32
        };
        assert!((share(&|spec| spec.background == Background::White) - 0.25).abs() < 0.04);
        assert!((share(&|spec| spec.objects.len() == 1) - 0.6).abs() < 0.04);
        assert!((share(&|spec| spec.pillar) - 0.15).abs() < 0.04);
        assert!(share(&|spec| spec.objects.iter().any(|object| object.colour == Colour::White)) > 0.1);
        assert_eq!(random_captions(50, 1), random_captions(50, 1));
        assert_ne!(random_captions(50, 1), random_captions(50, 2));
    }
}
