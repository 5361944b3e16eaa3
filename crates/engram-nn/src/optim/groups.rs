//! Parameter groups: per-parameter learning rate and weight decay, as PyTorch's
//! `param_groups`, selected by parameter name.

use std::fmt;

/// How a [`Group`] picks its parameters: by name prefix or by any predicate on the name.
enum Selector {
    Prefix(String),
    Predicate(Box<dyn Fn(&str) -> bool>),
}

impl Selector {
    fn selects(&self, name: &str) -> bool {
        match self {
            Selector::Prefix(prefix) => name.starts_with(prefix.as_str()),
            Selector::Predicate(predicate) => predicate(name),
        }
    }
}

/// A set of parameters, selected by name, with its own learning rate and/or weight decay.
/// What a group does not set comes from the optimizer's options.
///
/// ```
/// use engram_nn::optim::{Group, Optimizer, Sgd, SgdOptions};
///
/// let optimizer = Sgd::<f32>::new(SgdOptions { lr: 0.1, weight_decay: 1e-4, ..SgdOptions::new(0.1) })
///     .with_group(Group::prefix("backbone.").lr(0.01))
///     .with_group(Group::matching("biases", |name| name.ends_with("bias")).weight_decay(0.0));
/// assert_eq!(optimizer.param_groups().learning_rates(), [0.01, 0.1, 0.1]);
/// ```
pub struct Group {
    name: String,
    selector: Selector,
    lr: Option<f64>,
    weight_decay: Option<f64>,
}

impl Group {
    /// The parameters whose full name starts with `prefix` (e.g. `"encoder."`).
    pub fn prefix(prefix: &str) -> Group {
        Group {
            name: prefix.to_string(),
            selector: Selector::Prefix(prefix.to_string()),
            lr: None,
            weight_decay: None,
        }
    }

    /// The parameters whose full name satisfies `predicate`; `name` labels the group.
    pub fn matching(name: &str, predicate: impl Fn(&str) -> bool + 'static) -> Group {
        Group {
            name: name.to_string(),
            selector: Selector::Predicate(Box::new(predicate)),
            lr: None,
            weight_decay: None,
        }
    }

    /// This group's learning rate.
    pub fn lr(mut self, lr: f64) -> Group {
        self.lr = Some(lr);
        self
    }

    /// This group's weight decay.
    pub fn weight_decay(mut self, weight_decay: f64) -> Group {
        self.weight_decay = Some(weight_decay);
        self
    }
}

/// One group's settings as the optimizer uses them.
struct Settings {
    name: String,
    selector: Option<Selector>,
    lr: f64,
    weight_decay: f64,
}

/// The learning rate and weight decay that apply to one parameter in one step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Hyper {
    pub lr: f64,
    pub weight_decay: f64,
}

/// An optimizer's groups: those added with [`Optimizer::with_group`](super::Optimizer::with_group),
/// in order, then the default group, which holds every parameter no other group selected.
/// Learning rates are listed in that order.
pub struct ParamGroups {
    groups: Vec<Settings>,
}

impl ParamGroups {
    /// Only the default group.
    pub(crate) fn new(lr: f64, weight_decay: f64) -> ParamGroups {
        ParamGroups {
            groups: vec![Settings {
                name: "default".to_string(),
                selector: None,
                lr,
                weight_decay,
            }],
        }
    }

    /// Adds `group` after the groups added before it and before the default group, filling
    /// what it leaves unset from the default group. (On an optimizer being built,
    /// [`Optimizer::with_group`](super::Optimizer::with_group) reads better.)
    pub fn add(&mut self, group: Group) {
        let default = self.default_group();
        let settings = Settings {
            name: group.name,
            lr: group.lr.unwrap_or(default.lr),
            weight_decay: group.weight_decay.unwrap_or(default.weight_decay),
            selector: Some(group.selector),
        };
        let at = self.groups.len() - 1;
        self.groups.insert(at, settings);
    }

    fn default_group(&self) -> &Settings {
        self.groups
            .last()
            .expect("the default group is always there")
    }

    /// The number of groups, the default one included.
    pub fn len(&self) -> usize {
        self.groups.len()
    }

    /// Never true: the default group always exists.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Each group's name (the prefix, or the name given to [`Group::matching`]; `default`
    /// last).
    pub fn names(&self) -> Vec<&str> {
        self.groups.iter().map(|g| g.name.as_str()).collect()
    }

    /// The index of the group that holds the parameter called `name`.
    pub fn group_of(&self, name: &str) -> usize {
        self.groups
            .iter()
            .position(|g| g.selector.as_ref().is_none_or(|s| s.selects(name)))
            .expect("the default group selects every parameter")
    }

    /// The settings that apply to the parameter called `name`.
    pub(crate) fn hyper(&self, name: &str) -> Hyper {
        let g = &self.groups[self.group_of(name)];
        Hyper {
            lr: g.lr,
            weight_decay: g.weight_decay,
        }
    }

    /// The default group's learning rate.
    pub fn learning_rate(&self) -> f64 {
        self.default_group().lr
    }

    /// Sets every group's learning rate to `lr`.
    pub fn set_learning_rate(&mut self, lr: f64) {
        for g in &mut self.groups {
            g.lr = lr;
        }
    }

    /// Each group's learning rate, in group order.
    pub fn learning_rates(&self) -> Vec<f64> {
        self.groups.iter().map(|g| g.lr).collect()
    }

    /// Sets each group's learning rate, in group order.
    #[track_caller]
    pub fn set_learning_rates(&mut self, lrs: &[f64]) {
        if lrs.len() != self.groups.len() {
            panic!(
                "engram: `ParamGroups::set_learning_rates`: {} learning rates for {} groups",
                lrs.len(),
                self.groups.len()
            );
        }
        for (g, &lr) in self.groups.iter_mut().zip(lrs) {
            g.lr = lr;
        }
    }

    /// Each group's weight decay, in group order.
    pub fn weight_decays(&self) -> Vec<f64> {
        self.groups.iter().map(|g| g.weight_decay).collect()
    }

    /// Sets the weight decay of group `index`.
    #[track_caller]
    pub fn set_weight_decay(&mut self, index: usize, weight_decay: f64) {
        let len = self.groups.len();
        let Some(g) = self.groups.get_mut(index) else {
            panic!("engram: `ParamGroups::set_weight_decay`: group {index} of {len}");
        };
        g.weight_decay = weight_decay;
    }
}

impl fmt::Debug for ParamGroups {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut list = f.debug_list();
        for g in &self.groups {
            list.entry(&format_args!(
                "{} (lr {}, weight decay {})",
                g.name, g.lr, g.weight_decay
            ));
        }
        list.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_matching_group_wins_and_the_rest_fall_to_default() {
        let mut groups = ParamGroups::new(0.1, 0.01);
        groups.add(Group::prefix("encoder.").lr(0.5));
        groups.add(Group::matching("bias", |n| n.ends_with("bias")).weight_decay(0.0));
        assert_eq!(groups.group_of("encoder.0.bias"), 0);
        assert_eq!(groups.group_of("head.bias"), 1);
        assert_eq!(groups.group_of("head.weight"), 2);
        assert_eq!(
            groups.hyper("encoder.0.weight"),
            Hyper {
                lr: 0.5,
                weight_decay: 0.01
            }
        );
        assert_eq!(
            groups.hyper("head.bias"),
            Hyper {
                lr: 0.1,
                weight_decay: 0.0
            }
        );
        assert_eq!(groups.names(), ["encoder.", "bias", "default"]);
    }
}
