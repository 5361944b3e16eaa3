//! Every layer's and loss's gradient-check cases, gathered for the `engram gradcheck` sweep
//! and the f64 gradcheck tests beside the autograd registry's.

use engram_autograd::registry::GradcheckCase;

/// The gradcheck cases of engram-nn's functional layers and losses, family by family.
pub fn gradcheck_cases() -> Vec<GradcheckCase> {
    let mut cases = crate::functional::cases();
    cases.extend(crate::loss::cases());
    cases.extend(crate::functional::rnn::cases());
    cases.extend(crate::functional::attention::cases());
    cases.extend(crate::functional::transformer::cases());
    cases
}
