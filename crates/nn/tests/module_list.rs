//! `ModuleList`, named children and modules, downcasting, and `Unflatten`
//! (shapes as `torch.nn.Unflatten` gives them).

use autograd::Var;
use core_tensor::{Float, Rng, Tensor};
use nn::{
    BatchNorm1d, Flatten, Linear, Module, ModuleList, NnError, ReLU, Result, Sequential, Unflatten,
};
use proptest::prelude::*;

/// A model that is not a chain: a stem, then a list of blocks each added
/// to the running value (`h = h + block(h)`), then a head.
struct Net<F: Float> {
    stem: Linear<F>,
    blocks: ModuleList<F>,
    head: Linear<F>,
    training: bool,
}

impl<F: Float> Module<F> for Net<F> {
    fn type_name(&self) -> &'static str {
        "Net"
    }

    fn forward(&mut self, x: &Var<F>) -> Result<Var<F>> {
        let mut h = self.stem.forward(x)?;
        for block in self.blocks.iter_mut() {
            h = h.add(&block.forward(&h)?)?;
        }
        self.head.forward(&h)
    }

    fn is_training(&self) -> bool {
        self.training
    }

    fn set_training_flag(&mut self, training: bool) {
        self.training = training;
    }

    fn children(&self) -> Vec<(String, &dyn Module<F>)> {
        vec![
            ("stem".into(), &self.stem as &dyn Module<F>),
            ("blocks".into(), &self.blocks),
            ("head".into(), &self.head),
        ]
    }

    fn children_mut(&mut self) -> Vec<(String, &mut dyn Module<F>)> {
        vec![
            ("stem".into(), &mut self.stem as &mut dyn Module<F>),
            ("blocks".into(), &mut self.blocks),
            ("head".into(), &mut self.head),
        ]
    }
}

fn net(rng: &mut Rng) -> Net<f64> {
    let mut blocks = ModuleList::new();
    blocks.push(Linear::new(4, 4, true, rng).unwrap());
    blocks.push(
        Sequential::new()
            .push(Linear::new(4, 4, false, rng).unwrap())
            .push(BatchNorm1d::new(4).unwrap()),
    );
    blocks.extend([Box::new(ReLU::new()) as Box<dyn Module<f64>>]);
    Net {
        stem: Linear::new(3, 4, true, rng).unwrap(),
        blocks,
        head: Linear::new(4, 2, true, rng).unwrap(),
        training: true,
    }
}

#[test]
fn state_dict_names_are_pytorchs() {
    // torch: Net with blocks = nn.ModuleList([nn.Linear(4, 4),
    // nn.Sequential(nn.Linear(4, 4, bias=False), nn.BatchNorm1d(4)), nn.ReLU()]).
    let net = net(&mut Rng::new(0));
    let keys: Vec<String> = net.state_dict().keys().map(String::from).collect();
    assert_eq!(
        keys,
        [
            "stem.weight",
            "stem.bias",
            "blocks.0.weight",
            "blocks.0.bias",
            "blocks.1.0.weight",
            "blocks.1.1.weight",
            "blocks.1.1.bias",
            "blocks.1.1.running_mean",
            "blocks.1.1.running_var",
            "blocks.1.1.num_batches_tracked",
            "head.weight",
            "head.bias"
        ]
    );
}

#[test]
fn named_children_and_modules_walk_the_tree() {
    let net = net(&mut Rng::new(0));
    let children: Vec<(String, &str)> = net
        .named_children()
        .into_iter()
        .map(|(n, m)| (n, m.type_name()))
        .collect();
    assert_eq!(
        children,
        [
            ("stem".to_string(), "Linear"),
            ("blocks".to_string(), "ModuleList"),
            ("head".to_string(), "Linear")
        ]
    );
    let modules: Vec<String> = net
        .named_modules()
        .into_iter()
        .map(|(n, m)| format!("{n}:{}", m.type_name()))
        .collect();
    assert_eq!(
        modules,
        [
            ":Net",
            "stem:Linear",
            "blocks:ModuleList",
            "blocks.0:Linear",
            "blocks.1:Sequential",
            "blocks.1.0:Linear",
            "blocks.1.1:BatchNorm1d",
            "blocks.2:ReLU",
            "head:Linear"
        ]
    );
    // The same on a trait object.
    let dynamic: &dyn Module<f64> = &net;
    assert_eq!(nn::named_modules(dynamic).len(), 9);
}

#[test]
fn the_list_trains_evaluates_and_loads_with_its_owner() {
    let mut rng = Rng::new(1);
    let mut a = net(&mut rng);
    let mut b = net(&mut rng);
    a.eval();
    assert!(a.blocks.iter().all(|m| !m.is_training()));
    assert!(!nn::named_modules(&a.blocks[1])[2].1.is_training());
    b.load_state_dict(&a.state_dict(), true).unwrap();
    b.eval();
    let x = Var::constant(Tensor::from_vec(&[2, 3], vec![0.5, -1.0, 2.0, 0.0, 1.0, -0.5]).unwrap());
    assert_eq!(
        a.forward(&x).unwrap().value(),
        b.forward(&x).unwrap().value()
    );
    assert_eq!(a.parameters().len(), 9);
}

#[test]
fn indexing_insertion_and_downcasting() {
    let mut rng = Rng::new(2);
    let mut list = ModuleList::<f64>::new();
    assert!(list.is_empty());
    list.push(Linear::new(2, 3, true, &mut rng).unwrap());
    list.push(ReLU::new());
    list.insert(1, Flatten::new()).unwrap();
    assert!(matches!(
        list.insert(9, ReLU::new()),
        Err(NnError::InvalidConfig { .. })
    ));
    let types: Vec<&str> = list.iter().map(|m| m.type_name()).collect();
    assert_eq!(types, ["Linear", "Flatten", "ReLU"]);
    assert_eq!(list.len(), 3);
    assert!(list.get(3).is_none());
    let lin = list[0].downcast_ref::<Linear<f64>>().unwrap();
    assert_eq!((lin.in_features(), lin.out_features()), (2, 3));
    assert!(list[1].downcast_ref::<Linear<f64>>().is_none());
    list[2].eval();
    assert!(!list.get(2).unwrap().is_training());
    assert!(
        list.get_mut(0)
            .unwrap()
            .downcast_mut::<Linear<f64>>()
            .is_some()
    );
    // A ModuleList has no forward.
    let err = list
        .forward(&Var::constant(Tensor::zeros(&[1, 2])))
        .unwrap_err();
    assert!(err.to_string().contains("no forward"), "{err}");
    let keys: Vec<String> = list.state_dict().keys().map(String::from).collect();
    assert_eq!(keys, ["0.weight", "0.bias"]);
    let from = ModuleList::from_modules([
        Box::new(ReLU::new()) as Box<dyn Module<f64>>,
        Box::new(Flatten::new()),
    ]);
    assert_eq!(from.len(), 2);
}

fn unflatten_shape(dim: isize, sizes: &[isize], shape: &[usize]) -> Result<Vec<usize>> {
    let mut u = Unflatten::new(dim, sizes)?;
    let x = Var::constant(Tensor::<f64>::zeros(shape));
    Ok(u.forward(&x)?.shape())
}

#[test]
fn unflatten_shapes_are_pytorchs() {
    // torch.nn.Unflatten(dim, sizes)(torch.zeros(shape)).shape
    assert_eq!(
        unflatten_shape(1, &[2, 5, 5], &[2, 50]).unwrap(),
        [2, 2, 5, 5]
    );
    assert_eq!(unflatten_shape(-1, &[3, -1], &[4, 12]).unwrap(), [4, 3, 4]);
    assert_eq!(unflatten_shape(0, &[1, 6], &[6, 2]).unwrap(), [1, 6, 2]);
    assert_eq!(
        unflatten_shape(-2, &[-1, 2], &[4, 2, 3]).unwrap(),
        [4, 1, 2, 3]
    );
    assert_eq!(unflatten_shape(1, &[0, 3], &[2, 0]).unwrap(), [2, 0, 3]);
    // Flatten then Unflatten is the identity, values included.
    let x = Var::constant(Tensor::from_vec(&[2, 3, 4], (0..24).map(f64::from).collect()).unwrap());
    let flat = Module::<f64>::forward(&mut Flatten::new(), &x).unwrap();
    let back = Unflatten::new(1, &[3, 4]).unwrap().forward(&flat).unwrap();
    assert_eq!(back.value(), x.value());
}

#[test]
fn unflatten_rejects_what_pytorch_rejects() {
    assert!(Unflatten::new(1, &[]).is_err());
    assert!(Unflatten::new(1, &[-1, -1]).is_err());
    assert!(Unflatten::new(1, &[-2, 3]).is_err());
    let bad = |dim, sizes: &[isize], shape: &[usize]| {
        matches!(
            unflatten_shape(dim, sizes, shape),
            Err(NnError::BadInput { .. })
        )
    };
    assert!(bad(1, &[2, 5], &[2, 11]));
    assert!(bad(2, &[1], &[3, 4]));
    assert!(bad(-3, &[1], &[3, 4]));
    assert!(bad(1, &[3, -1], &[2, 10]));
    assert!(bad(1, &[0, -1], &[2, 0]));
    assert!(bad(0, &[1], &[]));
}

proptest! {
    #[test]
    fn unflatten_never_panics(
        dim in -5isize..5,
        sizes in prop::collection::vec(-3isize..6, 0..4),
        shape in prop::collection::vec(0usize..7, 0..4),
    ) {
        if let Ok(out) = unflatten_shape(dim, &sizes, &shape) {
            prop_assert_eq!(out.iter().product::<usize>(), shape.iter().product::<usize>());
            prop_assert_eq!(out.len(), shape.len() + sizes.len() - 1);
        }
    }
}
