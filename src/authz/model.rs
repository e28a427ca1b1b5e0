//! The organization as the privilege engine sees it: its networks, their tags and their
//! port privileges (privileges.md "Levels"). The tag -> networks index is built once in
//! `OrgModel::new`, so evaluating a tag grant never scans the organization.
//!
//! PURE: imports nothing async, no store, no I/O.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// A named port-management privilege defined on one network.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortPrivilegeDef {
    /// Whether holders of `port:NAME` may capture packets (`ports.NAME.capture`).
    pub capture: bool,
}

/// One network of the organization.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NetworkDef {
    pub tags: Vec<String>,
    /// Port privileges by name.
    pub ports: BTreeMap<String, PortPrivilegeDef>,
}

/// An organization's networks, sorted by id, with a tag index.
///
/// Networks are addressed internally by their position in id order; the engine keeps its
/// per-network work in flat arrays indexed by that position.
#[derive(Clone, Debug, Default)]
pub struct OrgModel {
    networks: Vec<(String, NetworkDef)>,
    /// tag -> positions of the networks carrying it, ascending, without duplicates.
    tags: HashMap<String, Vec<usize>>,
}

impl OrgModel {
    pub fn new(networks: BTreeMap<String, NetworkDef>) -> Self {
        // BTreeMap iterates in key order, so `networks` is sorted by id.
        let networks: Vec<(String, NetworkDef)> = networks.into_iter().collect();
        let mut tags: HashMap<String, Vec<usize>> = HashMap::new();
        for (pos, (_, def)) in networks.iter().enumerate() {
            for tag in &def.tags {
                let list = tags.entry(tag.clone()).or_default();
                // A network listing a tag twice still appears once.
                if list.last() != Some(&pos) {
                    list.push(pos);
                }
            }
        }
        OrgModel { networks, tags }
    }

    pub fn network(&self, id: &str) -> Option<&NetworkDef> {
        let pos = self.position(id)?;
        self.networks.get(pos).map(|(_, def)| def)
    }

    /// Network ids in byte order.
    pub fn network_ids(&self) -> impl Iterator<Item = &String> {
        self.networks.iter().map(|(id, _)| id)
    }

    /// Networks with their definitions, in id order.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &NetworkDef)> {
        self.networks.iter().map(|(id, def)| (id, def))
    }

    /// Ids of the networks carrying `tag`, in id order.
    pub fn networks_with_tag<'a>(&'a self, tag: &str) -> impl Iterator<Item = &'a String> {
        self.tagged(tag)
            .iter()
            .filter_map(|&pos| self.networks.get(pos).map(|(id, _)| id))
    }

    pub fn len(&self) -> usize {
        self.networks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.networks.is_empty()
    }

    pub(crate) fn position(&self, id: &str) -> Option<usize> {
        self.networks
            .binary_search_by(|(key, _)| key.as_str().cmp(id))
            .ok()
    }

    pub(crate) fn tagged(&self, tag: &str) -> &[usize] {
        self.tags.get(tag).map_or(&[], Vec::as_slice)
    }

    pub(crate) fn at(&self, pos: usize) -> Option<(&String, &NetworkDef)> {
        self.networks.get(pos).map(|(id, def)| (id, def))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(tags: &[&str]) -> NetworkDef {
        NetworkDef {
            tags: tags.iter().map(|t| t.to_string()).collect(),
            ports: BTreeMap::new(),
        }
    }

    #[test]
    fn indexes_tags_once_per_network() {
        let org = OrgModel::new(BTreeMap::from([
            ("b".to_string(), net(&["x", "x", "y"])),
            ("a".to_string(), net(&["x"])),
            ("c".to_string(), net(&[])),
        ]));
        assert_eq!(org.network_ids().collect::<Vec<_>>(), ["a", "b", "c"]);
        assert_eq!(org.networks_with_tag("x").collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(org.networks_with_tag("y").collect::<Vec<_>>(), ["b"]);
        assert_eq!(org.networks_with_tag("z").count(), 0);
        assert!(org.network("c").is_some());
        assert!(org.network("d").is_none());
        assert_eq!(org.len(), 3);
    }
}
