//! A small causal transformer on the bundled Shakespeare, trained for as long as
//! `char_lstm` trains, and compared with it on the same held-out text.
//!
//!     cargo run --release --example char_lstm          # first, for the time and the figure
//!     cargo run --release --example tiny_transformer   # [--seconds S]
//!
//! In PyTorch terms: token and learned position embeddings (`nn.Embedding(77, 64)`,
//! `nn.Embedding(64, 64)`), two `nn.TransformerEncoderLayer(64, nhead=4,
//! dim_feedforward=256, dropout=0, norm_first=True, batch_first=True)` called with the
//! causal `mask=generate_square_subsequent_mask(64)`, a final `nn.LayerNorm(64)` and
//! `nn.Linear(64, 77)`: a GPT in miniature, with as many parameters as `char_lstm`'s
//! model (114k; width 128 steps three times slower and sees too few windows in the time).
//! Data, split, windows (64 characters), batch (32), loss, Adam(lr=2e-3) and gradient
//! clipping are `char_lstm`'s.
//!
//! It trains until its training time reaches `--seconds`, by default the training time
//! `char_lstm` recorded in the output folder (else 107 s), reporting every 100 steps; then
//! it samples 300 characters and prints its validation loss beside `char_lstm`'s.
//! `ENGRAM_EXAMPLE_EPOCHS=N` scales the time as `char_lstm`'s N rounds; N = 1 is a smoke
//! test of 5 steps scored on 64 validation windows.

use engram::examples::language_model::{next_character_loss, sample, windows};
use engram::nn::attention::AttentionOptions;
use engram::nn::data::Vocabulary;
use engram::nn::functional::causal_mask;
use engram::nn::optim::clip_grad_norm;
use engram::nn::transformer::TransformerEncoderLayer;
use engram::nn::{Embedding, LayerNorm};
use engram::prelude::*;
use std::time::Instant;

const WINDOW: usize = 64;
const BATCH: usize = 32;
const WIDTH: usize = 64;
/// Steps between two reports.
const ROUND: usize = 100;
/// `char_lstm`'s default number of rounds, which its recorded time is for.
const LSTM_ROUNDS: usize = 5;
/// The training time when neither `--seconds` nor a `char_lstm` record is there: what
/// `char_lstm`'s default took on a loaded two-core machine.
const DEFAULT_SECONDS: f64 = 107.0;

/// Embeddings, encoder layers under a causal mask, final norm, head: ids `[B, T]` to
/// logits `[B, T, vocab]`.
#[derive(Module)]
struct TinyTransformer {
    token_embedding: Embedding,
    position_embedding: Embedding,
    layers: Vec<TransformerEncoderLayer>,
    norm: LayerNorm,
    head: Linear,
}

impl TinyTransformer {
    fn new(vocab: usize, rng: &mut impl Rng) -> TinyTransformer {
        let layer = |rng: &mut _| {
            TransformerEncoderLayer::new(WIDTH, 4, 4 * WIDTH, rng)
                .dropout(0.0)
                .norm_first(true)
                .batch_first(true)
        };
        TinyTransformer {
            token_embedding: Embedding::new(vocab, WIDTH, rng),
            position_embedding: Embedding::new(WINDOW, WIDTH, rng),
            layers: vec![layer(rng), layer(rng)],
            norm: LayerNorm::new(&[WIDTH]),
            head: Linear::new(WIDTH, vocab, rng),
        }
    }

    fn forward(&self, cx: &Context, ids: &Tensor<usize>) -> Var {
        let length = ids.shape()[1];
        let positions = Tensor::from_vec((0..length).collect(), &[1, length]);
        let mut x = self
            .token_embedding
            .forward(cx, ids)
            .add(&self.position_embedding.forward(cx, &positions));
        // Position i attends to 0..=i only: `true` above the diagonal.
        let options = AttentionOptions::default().attn_mask(causal_mask(length));
        for layer in &self.layers {
            x = layer.forward(cx, &x, &options);
        }
        self.head.forward(cx, &self.norm.forward(cx, &x))
    }
}

/// Mean validation loss over non-overlapping windows of the held-out text.
fn validation_loss(model: &TinyTransformer, ids: &[usize], starts: &[usize]) -> f64 {
    let cx = Context::eval();
    let mut total = 0.0;
    for batch in starts.chunks(BATCH) {
        let (input, target) = windows(ids, batch, WINDOW);
        let logits = model.forward(&cx, &input);
        total += next_character_loss(&logits, &target).value().item() as f64 * batch.len() as f64;
    }
    total / starts.len() as f64
}

/// `length` characters after `prompt`, each from the model run over the last `WINDOW`.
fn generate(model: &TinyTransformer, vocab: &Vocabulary, prompt: &str, length: usize) -> String {
    let cx = Context::eval();
    let mut rng = seeded_rng(1);
    let mut ids = vocab
        .encode(prompt)
        .expect("the prompt's characters are in the text");
    for _ in 0..length {
        let context = &ids[ids.len().saturating_sub(WINDOW)..];
        let logits = model.forward(
            &cx,
            &Tensor::from_vec(context.to_vec(), &[1, context.len()]),
        );
        ids.push(sample(&logits.value().index(s![0, -1, ..]), 0.8, &mut rng));
    }
    vocab.decode(&ids)
}

/// What `char_lstm` recorded of its last run of two rounds or more: `(validation loss,
/// training seconds, rounds, steps)`, if it left a record in `dir`.
fn lstm_record(dir: &std::path::Path) -> Option<(f64, f64, usize, usize)> {
    let text = std::fs::read_to_string(dir.join("char_lstm_record.txt")).ok()?;
    let value = |key: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix(key)?.trim().parse::<f64>().ok())
    };
    Some((
        value("validation_loss")?,
        value("training_seconds")?,
        value("rounds")? as usize,
        value("steps")? as usize,
    ))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let text = datasets::shakespeare(datasets::data_dir())?;
    let vocab = Vocabulary::characters(&text);
    let ids = vocab.encode(&text)?;
    // char_lstm's split: the first 90% of the text trains, the last 10% validates.
    let (train, valid) = ids.split_at(ids.len() * 9 / 10);
    let out = engram::examples::output_dir()?;
    let lstm = lstm_record(&out);

    let rounds = engram::examples::epochs(LSTM_ROUNDS);
    let smoke = rounds == 1;
    let flag: Option<f64> = std::env::args()
        .skip_while(|a| a != "--seconds")
        .nth(1)
        .map(|s| s.parse())
        .transpose()?;
    // char_lstm's time per round, times this run's rounds.
    let per_round = match lstm {
        Some((_, seconds, lstm_rounds, _)) => seconds / lstm_rounds as f64,
        None => DEFAULT_SECONDS / LSTM_ROUNDS as f64,
    };
    let seconds = flag.unwrap_or(per_round * rounds as f64);
    let (max_steps, report_every) = if smoke { (5, 5) } else { (usize::MAX, ROUND) };
    let valid_windows = if smoke {
        64
    } else {
        (valid.len() - 1) / WINDOW
    };
    let valid_starts: Vec<usize> = (0..valid_windows).map(|w| w * WINDOW).collect();
    println!(
        "Shakespeare: {} characters, {} distinct; {} to train, {} to validate ({} windows of {WINDOW})",
        ids.len(),
        vocab.len(),
        train.len(),
        valid.len(),
        valid_starts.len()
    );

    let mut rng = seeded_rng(0);
    let mut model = TinyTransformer::new(vocab.len(), &mut rng);
    println!(
        "causal transformer with {} parameters",
        model.num_parameters()
    );
    let mut adam = Adam::new(AdamOptions {
        lr: 2e-3,
        ..Default::default()
    });

    if smoke {
        println!("training for 5 steps (a one-round budget: a smoke test)");
    } else {
        println!(
            "training for {seconds:.0} s ({}) on {BATCH} random windows of {WINDOW} characters a step",
            if flag.is_some() {
                "--seconds"
            } else if lstm.is_some() {
                "char_lstm's recorded training time"
            } else {
                "no char_lstm record found: the default"
            }
        );
    }
    let cx = Context::train(0);
    let mut training_seconds = 0.0;
    let mut running = 0.0;
    let mut valid_loss = f64::NAN;
    let mut step = 0;
    while step < max_steps && (smoke || training_seconds < seconds) {
        step += 1;
        let started = Instant::now();
        let starts: Vec<usize> = (0..BATCH)
            .map(|_| rng.gen_range(0..train.len() - WINDOW))
            .collect();
        let (input, target) = windows(train, &starts, WINDOW);
        let logits = model.forward(&cx, &input);
        let loss = next_character_loss(&logits, &target);
        // loss.backward(); the logits Var must be gone before the tape is released.
        drop(logits);
        let mut grads = cx.backward(loss);
        clip_grad_norm(&mut grads, 1.0);
        adam.step(&mut model, &grads);
        training_seconds += started.elapsed().as_secs_f64();
        running += grads.loss() as f64;
        let last = step == max_steps || (!smoke && training_seconds >= seconds);
        if step % report_every == 0 || last {
            let steps_in_round = (step - 1) % report_every + 1;
            valid_loss = validation_loss(&model, valid, &valid_starts);
            println!(
                "step {step:5}: train loss {:.3}, validation loss {valid_loss:.3} (perplexity \
                 {:.2}), {:.0} characters/s, {training_seconds:.0} s",
                running / steps_in_round as f64,
                valid_loss.exp(),
                (step * BATCH * WINDOW) as f64 / training_seconds
            );
            running = 0.0;
        }
    }
    println!(
        "final validation loss {valid_loss:.3} (perplexity {:.2}) after {step} steps and \
         {training_seconds:.1} s of training",
        valid_loss.exp()
    );
    println!(
        "sample at temperature 0.8:\n{}",
        generate(&model, &vocab, "CLEOPATRA.\n", 300)
    );
    match lstm {
        Some((lstm_loss, lstm_seconds, _, lstm_steps)) => println!(
            "validation loss: tiny_transformer {valid_loss:.3} after {step} steps in \
             {training_seconds:.0} s; char_lstm {lstm_loss:.3} after {lstm_steps} steps in \
             {lstm_seconds:.0} s (its record): {} is lower",
            if valid_loss < lstm_loss {
                "the transformer's"
            } else {
                "the LSTM's"
            }
        ),
        None => println!(
            "no char_lstm record in {}: run `cargo run --release --example char_lstm` first \
             to compare",
            out.display()
        ),
    }
    Ok(())
}
