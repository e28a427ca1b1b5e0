//! SCIM attribute definitions (RFC 7643 §7), read from the schema documents in the
//! top-level `scim/` folder. Shared by the filter translator, PATCH, validation and
//! projection. Attribute names compare case-insensitively (RFC 7643 §2.1).

use serde::Deserialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum AttrType {
    String,
    Boolean,
    Decimal,
    Integer,
    DateTime,
    Binary,
    Reference,
    Complex,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub enum Mutability {
    ReadOnly,
    #[default]
    ReadWrite,
    Immutable,
    WriteOnly,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub enum Returned {
    Always,
    Never,
    #[default]
    Default,
    Request,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub enum Uniqueness {
    #[default]
    None,
    Server,
    Global,
}

/// One attribute as RFC 7643 §7 describes it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttrDef {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: AttrType,
    #[serde(default)]
    pub multi_valued: bool,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub case_exact: bool,
    #[serde(default)]
    pub mutability: Mutability,
    #[serde(default)]
    pub returned: Returned,
    #[serde(default)]
    pub uniqueness: Uniqueness,
    #[serde(default)]
    pub canonical_values: Vec<String>,
    #[serde(default)]
    pub reference_types: Vec<String>,
    #[serde(default)]
    pub sub_attributes: Vec<AttrDef>,
    #[serde(default)]
    pub description: String,
}

impl AttrDef {
    /// The sub-attribute called `name` (case-insensitive).
    pub fn sub(&self, name: &str) -> Option<&AttrDef> {
        self.sub_attributes
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }
}

/// One schema document (RFC 7643 §7): its URN and attributes.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SchemaDoc {
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub attributes: Vec<AttrDef>,
}

/// A resource type with its core schema and extensions, ready for lookups.
#[derive(Debug, Clone)]
pub struct ResourceSchema {
    /// "User" or "Group".
    pub name: String,
    pub core: SchemaDoc,
    /// Extension schemas and whether each is required.
    pub extensions: Vec<(SchemaDoc, bool)>,
}

/// Where an attribute was found: the schema URN it belongs to and its definition.
#[derive(Debug, Clone, Copy)]
pub struct Found<'a> {
    pub urn: &'a str,
    /// True when the attribute belongs to an extension schema (not the core one).
    pub extension: bool,
    pub def: &'a AttrDef,
}

impl ResourceSchema {
    /// Look up a top-level attribute, optionally qualified by a schema URN
    /// (case-insensitive). Without a URN the core schema is searched first, then each
    /// extension.
    pub fn lookup(&self, urn: Option<&str>, attr: &str) -> Option<Found<'_>> {
        fn find<'d>(doc: &'d SchemaDoc, attr: &str) -> Option<&'d AttrDef> {
            doc.attributes
                .iter()
                .find(|a| a.name.eq_ignore_ascii_case(attr))
        }
        let core = std::iter::once((&self.core, false));
        let exts = self.extensions.iter().map(|(d, _)| (d, true));
        for (doc, extension) in core.chain(exts) {
            if urn.is_some_and(|u| !u.eq_ignore_ascii_case(&doc.id)) {
                continue;
            }
            if let Some(def) = find(doc, attr) {
                return Some(Found {
                    urn: &doc.id,
                    extension,
                    def,
                });
            }
        }
        None
    }

    /// The extension schema with this URN (case-insensitive), if this resource has it.
    pub fn extension(&self, urn: &str) -> Option<&SchemaDoc> {
        self.extensions
            .iter()
            .map(|(d, _)| d)
            .find(|d| d.id.eq_ignore_ascii_case(urn))
    }

    /// The key under which an attribute's values are stored in `scim_values.attr`:
    /// the lower-cased name for core attributes, `{urn}:{name}` lower-cased for extension
    /// attributes.
    pub fn storage_key(found: &Found<'_>) -> String {
        if found.extension {
            format!("{}:{}", found.urn, found.def.name).to_ascii_lowercase()
        } else {
            found.def.name.to_ascii_lowercase()
        }
    }
}
