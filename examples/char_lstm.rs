//! A character-level LSTM language model on the bundled Shakespeare (about a megabyte,
//! eight plays), which then writes some Shakespeare of its own.
//!
//!     cargo run --release --example char_lstm
//!
//! In PyTorch terms: `nn.Embedding(77, 64)`, a one-layer `nn.LSTM(64, 128,
//! batch_first=True)` and `nn.Linear(128, 77)` over the text's 77 characters, trained on
//! random windows of 64 characters in batches of 32 to predict each next character
//! (cross-entropy), with Adam(lr=2e-3) and `clip_grad_norm_(1.0)`. The last 10% of the
//! text is held out. Every 100 steps it prints the training loss, the validation loss and
//! perplexity over every held-out window, and the speed in characters per second; then it
//! samples 300 characters at temperature 0.8 after a prompt, and records its validation
//! loss and training time for `tiny_transformer` (`char_lstm_record.txt` in the output
//! folder).
//!
//! The default 500 steps (five rounds of 100; about one pass over the training text) take
//! about two minutes on a loaded two-core machine; `tiny_transformer` trains for that long.
//! `ENGRAM_EXAMPLE_EPOCHS=N` runs N rounds; N = 1 is a smoke test of 5 steps scored on 64
//! validation windows.

use engram::examples::language_model::{next_character_loss, sample, windows};
use engram::nn::data::Vocabulary;
use engram::nn::optim::clip_grad_norm;
use engram::nn::rnn::{RecurrentOptions, LSTM};
use engram::nn::Embedding;
use engram::prelude::*;
use std::time::Instant;

const WINDOW: usize = 64;
const HIDDEN: usize = 128;
const BATCH: usize = 32;
/// Steps between two reports: one round of the budget `ENGRAM_EXAMPLE_EPOCHS` counts.
const ROUND: usize = 100;

/// Embedding, LSTM, linear head: `forward` maps ids `[B, T]` to logits `[B, T, vocab]`.
#[derive(Module)]
struct CharLstm {
    embedding: Embedding,
    lstm: LSTM,
    head: Linear,
}

impl CharLstm {
    fn new(vocab: usize, rng: &mut impl Rng) -> CharLstm {
        let options = RecurrentOptions::default().batch_first(true);
        CharLstm {
            embedding: Embedding::new(vocab, 64, rng),
            lstm: LSTM::new(64, HIDDEN, options, rng),
            head: Linear::new(HIDDEN, vocab, rng),
        }
    }

    /// Logits for every position, and the LSTM's final `(h, c)` to continue from.
    fn forward(
        &self,
        cx: &Context,
        ids: &Tensor<usize>,
        state: Option<(&Var, &Var)>,
    ) -> (Var, (Var, Var)) {
        let (hidden, state) = self
            .lstm
            .forward(cx, &self.embedding.forward(cx, ids), state);
        (self.head.forward(cx, &hidden), state)
    }
}

/// Mean validation loss over non-overlapping windows of the held-out text.
fn validation_loss(model: &CharLstm, ids: &[usize], starts: &[usize]) -> f64 {
    let cx = Context::eval();
    let mut total = 0.0;
    for batch in starts.chunks(BATCH) {
        let (input, target) = windows(ids, batch, WINDOW);
        let (logits, _) = model.forward(&cx, &input, None);
        total += next_character_loss(&logits, &target).value().item() as f64 * batch.len() as f64;
    }
    total / starts.len() as f64
}

/// `length` characters after `prompt`, fed one at a time through the LSTM's state.
fn generate(model: &CharLstm, vocab: &Vocabulary, prompt: &str, length: usize) -> String {
    let cx = Context::eval();
    let mut rng = seeded_rng(1);
    let prompt_ids = vocab
        .encode(prompt)
        .expect("the prompt's characters are in the text");
    let input = Tensor::from_vec(prompt_ids.clone(), &[1, prompt_ids.len()]);
    let (logits, mut state) = model.forward(&cx, &input, None);
    let last = |logits: &Var| logits.value().index(s![0, -1, ..]);
    let mut next = sample(&last(&logits), 0.8, &mut rng);
    let mut out = vec![next];
    for _ in 1..length {
        let input = Tensor::from_vec(vec![next], &[1, 1]);
        let (logits, new_state) = model.forward(&cx, &input, Some((&state.0, &state.1)));
        state = new_state;
        next = sample(&last(&logits), 0.8, &mut rng);
        out.push(next);
    }
    format!("{prompt}{}", vocab.decode(&out))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let text = datasets::shakespeare(datasets::data_dir())?;
    let vocab = Vocabulary::characters(&text);
    let ids = vocab.encode(&text)?;
    // A fixed split: the first 90% of the text trains, the last 10% validates.
    let (train, valid) = ids.split_at(ids.len() * 9 / 10);
    // Rounds of 100 steps; a one-round budget (CI) is a smoke test, scored on fewer windows.
    let rounds = engram::examples::epochs(5);
    let smoke = rounds == 1;
    let (steps, report_every) = if smoke {
        (5, 5)
    } else {
        (rounds * ROUND, ROUND)
    };
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
    let mut model = CharLstm::new(vocab.len(), &mut rng);
    println!(
        "LSTM language model with {} parameters",
        model.num_parameters()
    );
    let mut adam = Adam::new(AdamOptions {
        lr: 2e-3,
        ..Default::default()
    });

    println!(
        "training for {steps} steps of {BATCH} random windows of {WINDOW} characters{}",
        if smoke {
            " (a one-round budget: a smoke test)"
        } else {
            ""
        }
    );
    let cx = Context::train(0);
    let mut training_seconds = 0.0;
    let mut running = 0.0;
    let mut valid_loss = f64::NAN;
    for step in 1..=steps {
        let started = Instant::now();
        let starts: Vec<usize> = (0..BATCH)
            .map(|_| rng.gen_range(0..train.len() - WINDOW))
            .collect();
        let (input, target) = windows(train, &starts, WINDOW);
        let (logits, _) = model.forward(&cx, &input, None);
        let loss = next_character_loss(&logits, &target);
        // loss.backward(); the logits Var must be gone before the tape is released.
        drop(logits);
        let mut grads = cx.backward(loss);
        clip_grad_norm(&mut grads, 1.0);
        adam.step(&mut model, &grads);
        training_seconds += started.elapsed().as_secs_f64();
        running += grads.loss() as f64;
        if step % report_every == 0 {
            valid_loss = validation_loss(&model, valid, &valid_starts);
            println!(
                "step {step:5}: train loss {:.3}, validation loss {valid_loss:.3} (perplexity \
                 {:.2}), {:.0} characters/s, {training_seconds:.0} s",
                running / report_every as f64,
                valid_loss.exp(),
                (step * BATCH * WINDOW) as f64 / training_seconds
            );
            running = 0.0;
        }
    }
    println!(
        "final validation loss {valid_loss:.3} (perplexity {:.2}) after {steps} steps and \
         {training_seconds:.1} s of training",
        valid_loss.exp()
    );
    println!(
        "sample at temperature 0.8:\n{}",
        generate(&model, &vocab, "CLEOPATRA.\n", 300)
    );
    if !smoke {
        // What `tiny_transformer` reads: its training time and the figure to compare with.
        let record = engram::examples::output_dir()?.join("char_lstm_record.txt");
        let text = format!(
            "validation_loss {valid_loss}\ntraining_seconds {training_seconds}\n\
             rounds {rounds}\nsteps {steps}\n"
        );
        engram::nn::files::write_atomically(&record, text.as_bytes())?;
        println!(
            "wrote the validation loss and training time to {}",
            record.display()
        );
    }
    Ok(())
}
