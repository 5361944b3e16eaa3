//! Plain text to ids: reading a text file, a `Vocabulary` of characters or
//! whitespace-separated words, and windows of ids for next-token prediction.

use super::dataset::Dataset;
use super::error::{DataError, Location};
use super::source::Source;
use engram_tensor::{shape_error, Tensor};
use std::collections::HashMap;
use std::path::Path;

/// Reads a UTF-8 text file (gzip-compressed or not); [`DataError::NotUtf8`] gives the
/// byte offset of the first invalid byte.
pub fn read_text(path: impl AsRef<Path>) -> Result<String, DataError> {
    let path = path.as_ref();
    let bytes = Source::open(path)?.read_to_end()?;
    String::from_utf8(bytes).map_err(|e| DataError::NotUtf8 {
        path: path.to_path_buf(),
        at: Location::Byte(e.utf8_error().valid_up_to() as u64),
    })
}

/// A token that is not in the vocabulary, met while encoding.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("token {token:?} at byte {offset} is not in the vocabulary")]
pub struct UnknownToken {
    /// The token.
    pub token: String,
    /// Its byte offset in the encoded text.
    pub offset: usize,
}

/// How a vocabulary cuts text into tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level {
    Characters,
    Words,
}

/// The distinct tokens of a text, each with an id: characters (a character-level
/// language model's alphabet) or whitespace-separated words. Ids follow the tokens'
/// sorted order, so the same text always gives the same ids.
///
/// ```
/// use engram_nn::data::Vocabulary;
///
/// let vocab = Vocabulary::characters("hello");
/// assert_eq!(vocab.len(), 4); // e h l o
/// let ids = vocab.encode("hole").unwrap();
/// assert_eq!(ids, vec![1, 3, 2, 0]);
/// assert_eq!(vocab.decode(&ids), "hole");
/// assert!(vocab.encode("help").is_err()); // no 'p'
///
/// let words = Vocabulary::words("to be or not to be");
/// assert_eq!(words.decode(&words.encode("be or not").unwrap()), "be or not");
/// ```
#[derive(Debug, Clone)]
pub struct Vocabulary {
    level: Level,
    tokens: Vec<String>,
    ids: HashMap<String, usize>,
    /// Characters' ids without building a `String` per character.
    char_ids: HashMap<char, usize>,
}

impl Vocabulary {
    fn from_tokens<'t>(level: Level, all: impl Iterator<Item = &'t str>) -> Self {
        // Distinct first, then owned: a megabyte of text has a few dozen characters, and
        // sorting a String per character took a second.
        let distinct: std::collections::BTreeSet<&str> = all.collect();
        let tokens: Vec<String> = distinct.into_iter().map(String::from).collect();
        let ids = tokens
            .iter()
            .enumerate()
            .map(|(i, t)| (t.clone(), i))
            .collect();
        let char_ids = match level {
            Level::Characters => tokens
                .iter()
                .enumerate()
                .map(|(i, t)| (t.chars().next().expect("a character token"), i))
                .collect(),
            Level::Words => HashMap::new(),
        };
        Vocabulary {
            level,
            tokens,
            ids,
            char_ids,
        }
    }

    /// The distinct characters of `text`.
    pub fn characters(text: &str) -> Self {
        Self::from_tokens(
            Level::Characters,
            text.char_indices().map(|(i, c)| &text[i..i + c.len_utf8()]),
        )
    }

    /// The distinct whitespace-separated words of `text`.
    pub fn words(text: &str) -> Self {
        Self::from_tokens(Level::Words, text.split_whitespace())
    }

    /// The number of tokens: a model's input and output size.
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    /// True for the vocabulary of an empty text.
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// The tokens, in id order.
    pub fn tokens(&self) -> &[String] {
        &self.tokens
    }

    /// The id of `token`, if it is in the vocabulary.
    pub fn id(&self, token: &str) -> Option<usize> {
        self.ids.get(token).copied()
    }

    /// The token with id `id`; panics when `id >= len()`.
    #[track_caller]
    pub fn token(&self, id: usize) -> &str {
        match self.tokens.get(id) {
            Some(token) => token,
            None => shape_error(
                "Vocabulary::token",
                format!(
                    "id {id} is out of range for a vocabulary of {} tokens",
                    self.len()
                ),
            ),
        }
    }

    /// The ids of `text`'s tokens, or the first token not in the vocabulary.
    pub fn encode(&self, text: &str) -> Result<Vec<usize>, UnknownToken> {
        let unknown = |token: &str, offset| UnknownToken {
            token: token.to_string(),
            offset,
        };
        match self.level {
            Level::Characters => text
                .char_indices()
                .map(|(offset, c)| {
                    self.char_ids
                        .get(&c)
                        .copied()
                        .ok_or_else(|| unknown(c.encode_utf8(&mut [0; 4]), offset))
                })
                .collect(),
            Level::Words => text
                .split_whitespace()
                .map(|word| {
                    // The word is a subslice of `text`: its offset is the pointer difference.
                    let offset = word.as_ptr() as usize - text.as_ptr() as usize;
                    self.id(word).ok_or_else(|| unknown(word, offset))
                })
                .collect(),
        }
    }

    /// The text of `ids`: characters joined as they are, words with single spaces;
    /// panics on an id out of range.
    #[track_caller]
    pub fn decode(&self, ids: &[usize]) -> String {
        let separator = match self.level {
            Level::Characters => "",
            Level::Words => " ",
        };
        let tokens: Vec<&str> = ids.iter().map(|&id| self.token(id)).collect();
        tokens.join(separator)
    }
}

/// Windows of a token sequence for next-token prediction: example `i` is the ids
/// `[i * stride, i * stride + length)` as input and the same window one token later as
/// target, as a character-level language model trains.
///
/// ```
/// use engram_nn::data::{Dataset, NextTokenDataset};
///
/// let data = NextTokenDataset::new(vec![0, 1, 2, 3, 4, 5, 6], 3, 3);
/// assert_eq!(data.len(), 2); // [0 1 2] -> [1 2 3], [3 4 5] -> [4 5 6]
/// let (x, y) = data.get_batch(&[1, 0]);
/// assert_eq!(x.shape(), &[2, 3]);
/// assert_eq!(x.to_vec(), vec![3, 4, 5, 0, 1, 2]);
/// assert_eq!(y.to_vec(), vec![4, 5, 6, 1, 2, 3]);
/// ```
#[derive(Debug, Clone)]
pub struct NextTokenDataset {
    ids: Vec<usize>,
    length: usize,
    stride: usize,
}

impl NextTokenDataset {
    /// Windows of `length` ids starting every `stride` ids (`stride == length` for
    /// non-overlapping windows); panics when either is 0.
    #[track_caller]
    pub fn new(ids: Vec<usize>, length: usize, stride: usize) -> Self {
        if length == 0 || stride == 0 {
            shape_error(
                "NextTokenDataset::new",
                format!("length ({length}) and stride ({stride}) must be at least 1"),
            );
        }
        NextTokenDataset {
            ids,
            length,
            stride,
        }
    }

    /// The window length.
    pub fn length(&self) -> usize {
        self.length
    }

    #[track_caller]
    fn window(&self, index: usize, shift: usize) -> &[usize] {
        if index >= self.len() {
            shape_error(
                "NextTokenDataset::get",
                format!("index {index} is out of range for {} windows", self.len()),
            );
        }
        let start = index * self.stride + shift;
        &self.ids[start..start + self.length]
    }
}

impl Dataset for NextTokenDataset {
    /// Input ids `[length]` and target ids `[length]`.
    type Item = (Tensor<usize>, Tensor<usize>);
    /// Input ids `[B, length]` and target ids `[B, length]`.
    type Batch = (Tensor<usize>, Tensor<usize>);

    fn len(&self) -> usize {
        // A window needs `length + 1` ids: its inputs and, one later, its last target.
        match self.ids.len().checked_sub(self.length + 1) {
            Some(room) => room / self.stride + 1,
            None => 0,
        }
    }

    #[track_caller]
    fn get(&self, index: usize) -> Self::Item {
        let (x, y) = self.get_batch(&[index]);
        (x.squeeze(0), y.squeeze(0))
    }

    #[track_caller]
    fn get_batch(&self, indices: &[usize]) -> Self::Batch {
        let gather = |shift| {
            let ids: Vec<usize> = indices
                .iter()
                .flat_map(|&i| self.window(i, shift).iter().copied())
                .collect();
            Tensor::from_vec(ids, &[indices.len(), self.length])
        };
        (gather(0), gather(1))
    }
}
