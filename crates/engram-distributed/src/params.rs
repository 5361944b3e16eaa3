//! Starting every rank from the same model: the check that all ranks hold the same
//! parameter set, and the broadcast of rank 0's values.

use crate::error::DistributedError;
use crate::world::{Reducible, World};
use engram_nn::{named_buffers_mut, Module};
use engram_tensor::Float;

impl World {
    /// Checks that every rank holds the same parameters and buffers — names, shapes,
    /// element types, trainability — as rank 0. Rank 0 sends its list, each rank compares
    /// its own, and all learn which ranks differ, so a mismatch is an error on every rank
    /// (naming the first difference where it is found) instead of a hang or a silent mix
    /// of unrelated tensors.
    pub fn check_parameters<T: Float>(
        &self,
        model: &dyn Module<T>,
    ) -> Result<(), DistributedError> {
        let mine = describe(model);
        let root = self.broadcast_bytes(mine.clone().into_bytes());
        let root = String::from_utf8_lossy(&root);
        let detail = first_difference(&root, &mine);
        let mismatched = self.failed_ranks(detail.is_some());
        if mismatched.is_empty() {
            return Ok(());
        }
        Err(DistributedError::ParameterMismatch {
            rank: self.rank(),
            mismatched,
            detail: detail.unwrap_or_else(|| "this rank matches rank 0".to_string()),
        })
    }

    /// Makes every rank's parameters and buffers equal to rank 0's, after
    /// [`check_parameters`](World::check_parameters): the first line of data-parallel
    /// training, as Horovod's `broadcast_parameters` or what PyTorch's DDP does when it
    /// wraps a model. Ranks may initialise differently (any seed); they train from rank
    /// 0's values.
    ///
    /// One message per tensor: this runs once, and keeping tensors whole needs no packing.
    pub fn broadcast_parameters<T: Reducible>(
        &self,
        model: &mut dyn Module<T>,
    ) -> Result<(), DistributedError> {
        self.check_parameters(model)?;
        if self.size() == 1 {
            return Ok(());
        }
        for (_, parameter) in model.named_parameters_mut() {
            let value = self.broadcast_tensor(parameter.value());
            parameter.set(value);
        }
        for (_, buffer) in named_buffers_mut(model) {
            buffer.replace(self.broadcast_tensor(&buffer.get()));
        }
        Ok(())
    }
}

/// One line per parameter and buffer, in visiting order: what must agree across ranks.
fn describe<T: Float>(model: &dyn Module<T>) -> String {
    let mut out = String::new();
    for (name, p) in model.named_parameters() {
        let trainable = if p.is_trainable() {
            "trainable"
        } else {
            "frozen"
        };
        out += &format!(
            "parameter `{name}` {:?} {} {trainable}\n",
            p.shape(),
            T::DTYPE
        );
    }
    for (name, b) in model.named_buffers() {
        out += &format!("buffer `{name}` {:?} {}\n", b.get().shape(), T::DTYPE);
    }
    out
}

/// The first line where `mine` differs from `root`'s, said in words; `None` when equal.
fn first_difference(root: &str, mine: &str) -> Option<String> {
    if root == mine {
        return None;
    }
    let (theirs, ours) = (root.lines().count(), mine.lines().count());
    let detail = root
        .lines()
        .zip(mine.lines())
        .find(|(a, b)| a != b)
        .map(|(a, b)| format!("rank 0 has {a}, this rank has {b}"))
        .unwrap_or_else(|| {
            format!("rank 0 has {theirs} parameters and buffers, this rank has {ours}")
        });
    Some(detail)
}

#[cfg(test)]
mod tests {
    use super::*;
    use engram_nn::{Buffer, Parameter};
    use engram_tensor::Tensor;

    #[derive(engram_nn::Module)]
    struct Net {
        weight: Parameter<f64>,
        running: Buffer<f64>,
    }

    fn net(width: usize) -> Net {
        Net {
            weight: Parameter::new(Tensor::ones(&[2, width])),
            running: Buffer::new(Tensor::zeros(&[width])),
        }
    }

    #[test]
    fn the_description_names_shapes_types_and_trainability() {
        let mut n = net(3);
        n.weight.set_trainable(false);
        assert_eq!(
            describe(&n),
            "parameter `weight` [2, 3] float64 frozen\nbuffer `running` [3] float64\n"
        );
    }

    #[test]
    fn the_first_difference_is_named() {
        let detail = first_difference(&describe(&net(3)), &describe(&net(4))).unwrap();
        assert_eq!(
            detail,
            "rank 0 has parameter `weight` [2, 3] float64 trainable, this rank has \
             parameter `weight` [2, 4] float64 trainable"
        );
        assert!(first_difference("a\n", "a\nb\n")
            .unwrap()
            .contains("1 parameters"));
        assert_eq!(first_difference("a\n", "a\n"), None);
    }

    #[test]
    fn a_world_of_one_agrees_with_itself_and_keeps_its_values() {
        let world = World::single();
        let mut n = net(2);
        world.broadcast_parameters(&mut n).unwrap();
        assert_eq!(n.weight.value().to_vec(), vec![1.0; 4]);
    }
}
