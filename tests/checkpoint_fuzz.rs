//! Checkpoints under attack (issue 15, item 5): random bytes, and random truncations,
//! byte flips and insertions in a real checkpoint, fed to the loader, must give a typed
//! error or a clean load, never a panic, and a failed load leaves the model as it was.

use engram::nn::checkpoint;
use engram::prelude::*;
use proptest::prelude::*;

fn model() -> Sequential {
    let mut rng = seeded_rng(0);
    Sequential::new()
        .add(Linear::new(3, 4, &mut rng))
        .add(ReLU)
        .add(Linear::new(4, 2, &mut rng))
}

fn weights(m: &Sequential) -> Vec<Vec<f32>> {
    m.named_parameters()
        .into_iter()
        .map(|(_, p)| p.value().to_vec())
        .collect()
}

/// A real checkpoint of [`model`], as bytes.
fn saved() -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.safetensors");
    checkpoint::save(&path, &model()).unwrap();
    std::fs::read(path).unwrap()
}

/// Loads `bytes` as a checkpoint into a fresh model: Ok or Err, but no panic; on Err
/// the model's weights are untouched.
fn load_bytes(bytes: &[u8]) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.safetensors");
    std::fs::write(&path, bytes).unwrap();
    let mut m = model();
    let before = weights(&m);
    if checkpoint::load(&path, &mut m).is_err() {
        assert_eq!(weights(&m), before, "a failed load changed the model");
    }
}

#[derive(Debug, Clone)]
enum Mutation {
    Truncate(usize),
    Flip(usize, u8),
    Insert(usize, Vec<u8>),
    Header(u64),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), 1..=255u8).prop_map(|(at, x)| Mutation::Flip(at, x)),
        (
            any::<usize>(),
            proptest::collection::vec(any::<u8>(), 1..16)
        )
            .prop_map(|(at, b)| Mutation::Insert(at, b)),
        any::<u64>().prop_map(Mutation::Header),
    ]
}

/// Applies one mutation. Mutations follow one another, so the bytes may already be
/// truncated short (or to nothing): each applies to what is left, or to nothing.
fn apply(mut bytes: Vec<u8>, m: &Mutation) -> Vec<u8> {
    let n = bytes.len();
    match m {
        Mutation::Truncate(at) if n > 0 => bytes.truncate(at % n),
        Mutation::Flip(at, x) if n > 0 => bytes[at % n] ^= x,
        Mutation::Insert(at, b) => {
            let at = at % (n + 1);
            bytes.splice(at..at, b.iter().copied());
        }
        // The first eight bytes are the header's length: claim anything.
        Mutation::Header(len) if n >= 8 => bytes[..8].copy_from_slice(&len.to_le_bytes()),
        _ => {}
    }
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_are_refused_without_a_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        load_bytes(&bytes);
    }

    #[test]
    fn mutated_checkpoints_are_refused_or_loaded_without_a_panic(
        mutations in proptest::collection::vec(mutation(), 1..4)
    ) {
        let bytes = mutations.iter().fold(saved(), apply);
        load_bytes(&bytes);
    }
}

#[test]
fn the_unmutated_checkpoint_loads() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.safetensors");
    std::fs::write(&path, saved()).unwrap();
    let mut m = Sequential::new()
        .add(Linear::new(3, 4, &mut seeded_rng(9)))
        .add(ReLU)
        .add(Linear::new(4, 2, &mut seeded_rng(9)));
    checkpoint::load(&path, &mut m).unwrap();
    assert_eq!(weights(&m), weights(&model()));
}
