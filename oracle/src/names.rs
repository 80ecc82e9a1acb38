//! Helium-style three-word names of hotspots (`angry-purple-tiger`), derived from the base58
//! address, shown by the explorer beside every address; and the search text of
//! `/api/v1/hotspots/search`, which finds hotspots by name or by the start of their address.

use angry_purple_tiger::AnimalName;

/// Longest search text accepted, in bytes.
pub const MAX_QUERY_LEN: usize = 64;

/// The three-word name of the hotspot at `address`, as Helium derives it (MD5 of the base58
/// address, folded into an adjective, a colour and an animal).
pub fn hotspot_name(address: &poc::Address) -> String {
    match address.to_string().parse::<AnimalName>() {
        Ok(name) => name.to_string(),
        Err(never) => match never {},
    }
}

/// Why a search text is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SearchError {
    /// Nothing to search for.
    #[error("q is empty: give part of a name (angry-purple-tiger) or the start of an address")]
    Empty,
    /// Longer than [`MAX_QUERY_LEN`].
    #[error("q is {len} bytes long; at most {MAX_QUERY_LEN}")]
    TooLong {
        /// Bytes received.
        len: usize,
    },
    /// A character that is in no name and no address.
    #[error("q has {found:?} at byte {at}; letters, digits, '-', '_' and spaces only")]
    BadCharacter {
        /// The character.
        found: char,
        /// Its byte offset in the text.
        at: usize,
    },
}

/// A validated search text: part of a name, in any case and with or without dashes, or the
/// start of an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchQuery {
    text: String,
    folded: String,
}

impl SearchQuery {
    /// Reads a search text: surrounding spaces are dropped; ASCII letters, digits, `-`, `_`
    /// and spaces are accepted, at most [`MAX_QUERY_LEN`] bytes.
    pub fn parse(text: &str) -> Result<Self, SearchError> {
        if text.len() > MAX_QUERY_LEN {
            return Err(SearchError::TooLong { len: text.len() });
        }
        if let Some((at, found)) = text
            .char_indices()
            .find(|(_, c)| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ' ')))
        {
            return Err(SearchError::BadCharacter { found, at });
        }
        let text = text.trim();
        let folded = fold(text);
        if folded.is_empty() {
            return Err(SearchError::Empty);
        }
        Ok(Self {
            text: text.to_string(),
            folded,
        })
    }

    /// Whether the hotspot with this address and name is found: its address starts with the
    /// text, or its name, ignoring case, dashes and spaces, contains it.
    pub fn matches(&self, address: &str, name: &str) -> bool {
        address.starts_with(&self.text) || fold(name).contains(&self.folded)
    }

    /// The text as searched for.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// Lower-case letters and digits only: `Angry-Purple tiger` → `angrypurpletiger`.
fn fold(text: &str) -> String {
    text.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helium_names_are_reproduced() {
        let known = "112CuoXo7WCcp6GGwDNBo6H5nKXGH45UNJ39iEefdv2mwmnwdFt8";
        let name = known.parse::<AnimalName>().unwrap().to_string();
        assert_eq!(name, "feisty-glass-dalmatian");
        let key = poc::Keypair::from_seed(1, 1).address();
        let name = hotspot_name(&key);
        assert_eq!(name.split('-').count(), 3, "{name}");
        assert_eq!(hotspot_name(&key), name);
    }

    #[test]
    fn names_match_in_any_case_with_or_without_dashes() {
        let name = "feisty-glass-dalmatian";
        for text in [
            "feisty",
            "Glass-Dalmatian",
            "FEISTY GLASS",
            "glassdal",
            " dalmatian ",
        ] {
            let q = SearchQuery::parse(text).unwrap();
            assert!(q.matches("1abc", name), "{text}");
        }
        assert!(!SearchQuery::parse("tiger").unwrap().matches("1abc", name));
    }

    #[test]
    fn addresses_match_by_prefix_exactly() {
        let q = SearchQuery::parse("4ivp").unwrap();
        assert!(q.matches("4ivpToFab", "a-b-c"));
        assert!(!q.matches("4IVPToFab", "a-b-c"));
        assert!(!q.matches("x4ivp", "a-b-c"));
    }

    #[test]
    fn bad_text_is_refused_with_the_reason() {
        assert_eq!(SearchQuery::parse(""), Err(SearchError::Empty));
        assert_eq!(SearchQuery::parse(" - "), Err(SearchError::Empty));
        assert_eq!(
            SearchQuery::parse("a+b"),
            Err(SearchError::BadCharacter { found: '+', at: 1 })
        );
        assert_eq!(
            SearchQuery::parse("é"),
            Err(SearchError::BadCharacter { found: 'é', at: 0 })
        );
        let long = "a".repeat(MAX_QUERY_LEN + 1);
        assert_eq!(
            SearchQuery::parse(&long),
            Err(SearchError::TooLong {
                len: MAX_QUERY_LEN + 1
            })
        );
        assert!(SearchQuery::parse(&"a".repeat(MAX_QUERY_LEN)).is_ok());
    }
}
