//! Numeric CSV files (gzip-compressed or not): features and a label column, every
//! malformed field reported by file, line and column.

use super::dataset::TensorDataset;
use super::error::{DataError, Location};
use super::source::Source;
use engram_tensor::{Element, Float, Tensor};
use std::borrow::Cow;
use std::path::{Path, PathBuf};

/// Which column of a CSV file holds the label.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum LabelColumn {
    /// The last column (the default, as in scikit-learn's bundled files).
    #[default]
    Last,
    /// The column at this index, from 0.
    Index(usize),
    /// The column with this name in the header line.
    Name(String),
}

impl From<usize> for LabelColumn {
    fn from(index: usize) -> Self {
        LabelColumn::Index(index)
    }
}

impl From<&str> for LabelColumn {
    fn from(name: &str) -> Self {
        LabelColumn::Name(name.to_string())
    }
}

/// Reads numeric CSV: every field a number, one row per example, one column the label.
///
/// Lines end with LF or CRLF; blank lines are skipped; fields may be double-quoted (a
/// quote inside doubled, as RFC 4180 has it). The first bytes decide whether the file is
/// gzip, not its name.
///
/// ```
/// use engram_nn::data::{CsvReader, Dataset};
/// # let dir = tempfile::tempdir().unwrap();
/// # let path = dir.path().join("points.csv");
/// std::fs::write(&path, "x,y,class\n0.5,1.5,0\n2.0,-1.0,2\n").unwrap();
/// let data = CsvReader::new().header(true).label("class").classes(3).read_classification::<f32>(&path)?;
/// assert_eq!(data.features().shape(), &[2, 2]);
/// assert_eq!(data.targets().to_vec(), vec![0, 2]);
/// # Ok::<(), engram_nn::data::DataError>(())
/// ```
#[derive(Debug, Clone)]
pub struct CsvReader {
    skip_lines: usize,
    header: bool,
    delimiter: char,
    label: LabelColumn,
    classes: Option<usize>,
}

impl Default for CsvReader {
    fn default() -> Self {
        CsvReader::new()
    }
}

/// One data row: its features as numbers, its label field as text.
struct Row<T> {
    features: Vec<T>,
    label: Option<String>,
    line: usize,
}

/// The data rows of a file, the number of fields in each, and the label column's index.
struct Table<T> {
    rows: Vec<Row<T>>,
    columns: usize,
    label: Option<usize>,
}

impl CsvReader {
    /// No header, comma-separated, the label in the last column, any number of classes.
    pub fn new() -> Self {
        CsvReader {
            skip_lines: 0,
            header: false,
            delimiter: ',',
            label: LabelColumn::Last,
            classes: None,
        }
    }

    /// Whether the first line (after any skipped) holds column names.
    pub fn header(mut self, header: bool) -> Self {
        self.header = header;
        self
    }

    /// Lines to skip before the header or the data (scikit-learn's files start with a
    /// metadata line, `569,30,malignant,benign`).
    pub fn skip_lines(mut self, lines: usize) -> Self {
        self.skip_lines = lines;
        self
    }

    /// The field separator (`,` unless set; `;` and `\t` are common).
    pub fn delimiter(mut self, delimiter: char) -> Self {
        self.delimiter = delimiter;
        self
    }

    /// The label column: an index from 0, a header name, or [`LabelColumn::Last`].
    pub fn label(mut self, column: impl Into<LabelColumn>) -> Self {
        self.label = column.into();
        self
    }

    /// The number of classes: class labels must be integers in `0..classes`.
    pub fn classes(mut self, classes: usize) -> Self {
        self.classes = Some(classes);
        self
    }

    /// Every column as a feature, `[rows, columns]`; the label setting is ignored.
    pub fn read_features<T: Float>(&self, path: impl AsRef<Path>) -> Result<Tensor<T>, DataError> {
        let table = self.read_table::<T>(path.as_ref(), false)?;
        let n = table.rows.len();
        let data = table.rows.into_iter().flat_map(|r| r.features).collect();
        Ok(Tensor::from_vec(data, &[n, table.columns]))
    }

    /// Features `[rows, columns - 1]` and class ids `[rows]` from the label column.
    ///
    /// Errors name the file, line and column: [`DataError::NotNumeric`],
    /// [`DataError::Ragged`], [`DataError::Empty`], [`DataError::NoSuchColumn`], and
    /// [`DataError::LabelOutOfRange`] for a label that is not an integer in
    /// `0..classes`.
    pub fn read_classification<T: Float>(
        &self,
        path: impl AsRef<Path>,
    ) -> Result<TensorDataset<T, usize>, DataError> {
        let path = path.as_ref();
        self.read_labelled(path, |text, at| {
            parse_number::<f64>(path, text, at)
                .ok()
                .filter(|v| v.fract() == 0.0 && *v >= 0.0 && *v < usize::MAX as f64)
                .map(|v| v as usize)
                .filter(|&c| self.classes.is_none_or(|k| c < k))
                .ok_or_else(|| DataError::LabelOutOfRange {
                    path: path.to_path_buf(),
                    at,
                    label: text.trim().to_string(),
                    classes: self.classes,
                })
        })
    }

    /// Features `[rows, columns - 1]` and real targets `[rows]` from the label column,
    /// for regression (or binary targets as 0.0 and 1.0). Errors as
    /// [`read_classification`](Self::read_classification), less the class check.
    pub fn read_regression<T: Float>(
        &self,
        path: impl AsRef<Path>,
    ) -> Result<TensorDataset<T, T>, DataError> {
        let path = path.as_ref();
        self.read_labelled(path, |text, at| parse_number(path, text, at))
    }

    /// Features `[rows, columns - 1]` and the label column parsed by `label`, which gets
    /// each label's text and place.
    fn read_labelled<T: Float, Y: Element>(
        &self,
        path: &Path,
        label: impl Fn(&str, Location) -> Result<Y, DataError>,
    ) -> Result<TensorDataset<T, Y>, DataError> {
        let table = self.read_table::<T>(path, true)?;
        let column = table.label.expect("a labelled read has a label column") + 1;
        let targets = table
            .rows
            .iter()
            .map(|row| {
                let at = Location::Line {
                    line: row.line,
                    column: Some(column),
                };
                label(row.label.as_deref().expect("a label was read"), at)
            })
            .collect::<Result<Vec<Y>, DataError>>()?;
        let n = table.rows.len();
        let features = table.rows.into_iter().flat_map(|r| r.features).collect();
        Ok(TensorDataset::new(
            Tensor::from_vec(features, &[n, table.columns - 1]),
            Tensor::from_vec(targets, &[n]),
        ))
    }

    /// The label column's index in rows of `columns` fields.
    fn label_index(
        &self,
        path: &Path,
        columns: usize,
        header: Option<&[String]>,
    ) -> Result<usize, DataError> {
        let missing = |column: String| DataError::NoSuchColumn {
            path: path.to_path_buf(),
            column,
            header: header.map(|h| h.to_vec()),
            columns,
        };
        match &self.label {
            LabelColumn::Last => columns.checked_sub(1).ok_or_else(|| missing("last".into())),
            LabelColumn::Index(i) if *i < columns => Ok(*i),
            LabelColumn::Index(i) => Err(missing(i.to_string())),
            LabelColumn::Name(name) => header
                .and_then(|h| h.iter().position(|c| c == name))
                .ok_or_else(|| missing(format!("{name:?}"))),
        }
    }

    /// Parses the data rows: features as numbers, the label field kept as text when
    /// `labelled`.
    fn read_table<T: Float>(&self, path: &Path, labelled: bool) -> Result<Table<T>, DataError> {
        let bytes = Source::open(path)?.read_to_end()?;
        let text = std::str::from_utf8(&bytes).map_err(|e| DataError::NotUtf8 {
            path: path.to_path_buf(),
            at: Location::Line {
                line: 1 + bytes[..e.valid_up_to()]
                    .iter()
                    .filter(|&&b| b == b'\n')
                    .count(),
                column: None,
            },
        })?;
        let mut lines = text
            .split('\n')
            .enumerate()
            .skip(self.skip_lines)
            .map(|(i, line)| (i + 1, line.strip_suffix('\r').unwrap_or(line)))
            .filter(|(_, line)| !line.trim().is_empty())
            .map(|(i, line)| (i, split_fields(line, self.delimiter)))
            .peekable();
        let header: Option<(usize, Vec<String>)> = if self.header {
            lines
                .next()
                .map(|(line, names)| (line, names.into_iter().map(Cow::into_owned).collect()))
        } else {
            None
        };
        // The header, or else the first row, sets the number of fields.
        let Some((first_line, columns)) = header
            .as_ref()
            .map(|(line, names)| (*line, names.len()))
            .or_else(|| lines.peek().map(|(line, fields)| (*line, fields.len())))
        else {
            return Err(self.empty(path));
        };
        let label = if labelled {
            let names = header.as_ref().map(|(_, names)| names.as_slice());
            Some(self.label_index(path, columns, names)?)
        } else {
            None
        };
        let mut rows = Vec::new();
        for (line, fields) in lines {
            if fields.len() != columns {
                return Err(DataError::Ragged {
                    path: path.to_path_buf(),
                    line,
                    found: fields.len(),
                    expected: columns,
                    first_line,
                });
            }
            let mut row = Row {
                features: Vec::with_capacity(columns),
                label: None,
                line,
            };
            for (j, field) in fields.into_iter().enumerate() {
                if Some(j) == label {
                    row.label = Some(field.into_owned());
                } else {
                    let at = Location::Line {
                        line,
                        column: Some(j + 1),
                    };
                    row.features.push(parse_number(path, &field, at)?);
                }
            }
            rows.push(row);
        }
        if rows.is_empty() {
            return Err(self.empty(path));
        }
        Ok(Table {
            rows,
            columns,
            label,
        })
    }

    fn empty(&self, path: &Path) -> DataError {
        DataError::Empty {
            path: path.to_path_buf(),
            after_header: self.header || self.skip_lines > 0,
        }
    }
}

/// A field as a number, or an error naming where it is.
fn parse_number<T: Float>(path: &Path, field: &str, at: Location) -> Result<T, DataError> {
    field
        .trim()
        .parse::<f64>()
        .map(T::of)
        .map_err(|_| DataError::NotNumeric {
            path: PathBuf::from(path),
            at,
            field: field.to_string(),
        })
}

/// Splits a line at `delimiter` outside double quotes, unquoting quoted fields.
fn split_fields(line: &str, delimiter: char) -> Vec<Cow<'_, str>> {
    let mut fields = Vec::new();
    let mut start = 0;
    let mut quoted = false;
    for (i, c) in line.char_indices() {
        if c == '"' {
            quoted = !quoted;
        } else if c == delimiter && !quoted {
            fields.push(unquote(&line[start..i]));
            start = i + c.len_utf8();
        }
    }
    fields.push(unquote(&line[start..]));
    fields
}

/// A field without surrounding whitespace and quotes, `""` inside read as `"`.
fn unquote(field: &str) -> Cow<'_, str> {
    let trimmed = field.trim();
    match trimmed.strip_prefix('"').and_then(|f| f.strip_suffix('"')) {
        Some(inner) if inner.contains("\"\"") => Cow::Owned(inner.replace("\"\"", "\"")),
        Some(inner) => Cow::Borrowed(inner),
        None => Cow::Borrowed(trimmed),
    }
}
