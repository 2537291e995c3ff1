//! Prices per model, in US dollars per million tokens, and the cost of usage.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Usage;

/// The price of one model.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    /// Per million uncached input tokens.
    pub input: f64,
    /// Per million output tokens.
    pub output: f64,
    /// Per million input tokens read from cache.
    #[serde(default)]
    pub cache_read: f64,
    /// Per million input tokens written to cache.
    #[serde(default)]
    pub cache_write: f64,
}

impl Price {
    /// The cost of `usage`, in dollars.
    pub fn cost(&self, usage: &Usage) -> f64 {
        let m = |tokens: u64, price: f64| tokens as f64 * price / 1_000_000.0;
        m(usage.input_tokens, self.input)
            + m(usage.output_tokens, self.output)
            + m(usage.cache_read_tokens, self.cache_read)
            + m(usage.cache_write_tokens, self.cache_write)
    }
}

/// Prices by model name. A model matches its exact name, else the longest
/// name that is a prefix of it (`gpt-4o-2024-08-06` uses `gpt-4o`).
#[derive(Debug, Clone, PartialEq)]
pub struct PriceTable(BTreeMap<String, Price>);

impl Default for PriceTable {
    fn default() -> Self {
        let p = |input, output, cache_read, cache_write| Price {
            input,
            output,
            cache_read,
            cache_write,
        };
        let table = [
            ("gpt-4o", p(2.5, 10.0, 1.25, 0.0)),
            ("gpt-4o-mini", p(0.15, 0.6, 0.075, 0.0)),
            ("gpt-4.1", p(2.0, 8.0, 0.5, 0.0)),
            ("gpt-4.1-mini", p(0.4, 1.6, 0.1, 0.0)),
            ("gpt-4.1-nano", p(0.1, 0.4, 0.025, 0.0)),
            ("o3", p(2.0, 8.0, 0.5, 0.0)),
            ("o4-mini", p(1.1, 4.4, 0.275, 0.0)),
            ("gpt-5", p(1.25, 10.0, 0.125, 0.0)),
            ("gpt-5-mini", p(0.25, 2.0, 0.025, 0.0)),
            ("claude-opus-4", p(15.0, 75.0, 1.5, 18.75)),
            ("claude-sonnet-4", p(3.0, 15.0, 0.3, 3.75)),
            ("claude-3-7-sonnet", p(3.0, 15.0, 0.3, 3.75)),
            ("claude-3-5-haiku", p(0.8, 4.0, 0.08, 1.0)),
            ("claude-haiku-4", p(1.0, 5.0, 0.1, 1.25)),
        ];
        Self(table.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
    }
}

impl PriceTable {
    /// Adds or replaces prices.
    pub fn extend(&mut self, prices: impl IntoIterator<Item = (String, Price)>) {
        self.0.extend(prices);
    }

    /// The price of a model, if known.
    pub fn get(&self, model: &str) -> Option<&Price> {
        self.0.get(model).or_else(|| {
            self.0
                .iter()
                .filter(|(name, _)| model.starts_with(name.as_str()))
                .max_by_key(|(name, _)| name.len())
                .map(|(_, p)| p)
        })
    }

    /// The cost of `usage` on `model`; zero for unknown models (local ones are free).
    pub fn cost(&self, model: &str, usage: &Usage) -> f64 {
        self.get(model).map_or(0.0, |p| p.cost(usage))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_match_and_cost() {
        let t = PriceTable::default();
        let u = Usage {
            input_tokens: 1_000_000,
            output_tokens: 500_000,
            cache_read_tokens: 2_000_000,
            cache_write_tokens: 0,
        };
        assert!((t.cost("gpt-4o-2024-08-06", &u) - (2.5 + 5.0 + 2.5)).abs() < 1e-9);
        assert!(
            (t.cost("gpt-4o-mini-2024", &u) - (0.15 + 0.3 + 0.15)).abs() < 1e-9,
            "longest prefix wins"
        );
        assert_eq!(t.cost("llama3.1:8b", &u), 0.0);
        let mut t = t;
        t.extend([(
            "llama3".to_owned(),
            Price {
                input: 1.0,
                output: 1.0,
                cache_read: 0.0,
                cache_write: 0.0,
            },
        )]);
        assert!((t.cost("llama3.1:8b", &u) - 1.5).abs() < 1e-9);
    }
}
