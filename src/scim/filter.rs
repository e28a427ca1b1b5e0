//! SCIM filter grammar (RFC 7644 §3.4.2.2), attribute paths, PATCH paths (§3.5.2)
//! and in-memory evaluation of filters on resource documents.

use std::sync::OnceLock;

use serde_json::{json, Number, Value};

use super::attrs::{AttrDef, AttrType, ResourceSchema};
use super::error::{ScimError, ScimResult};

/// Nesting limit for parentheses, `not` and value paths.
const MAX_DEPTH: usize = 50;
/// Limit on the number of attribute expressions in one filter.
const MAX_TERMS: usize = 500;

/// An attribute path: `[urn:]attr[.sub]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrPath {
    pub urn: Option<String>,
    pub attr: String,
    pub sub: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

#[derive(Debug, Clone, PartialEq)]
pub enum CompValue {
    Str(String),
    Bool(bool),
    Num(Number),
    Null,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    Compare {
        path: AttrPath,
        op: CompareOp,
        value: CompValue,
    },
    Present(AttrPath),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    ValuePath {
        path: AttrPath,
        filter: Box<Filter>,
    },
}

/// A PATCH `path` (RFC 7644 §3.5.2): `attrPath` or `valuePath [.subAttr]`.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPath {
    pub attr: AttrPath,
    pub filter: Option<Filter>,
    pub sub: Option<String>,
}

fn valid_name(s: &str) -> bool {
    let mut chars = s.chars();
    match chars.next() {
        Some('$') => chars.all(|c| c.is_ascii_alphanumeric()) && s.len() > 1,
        Some(c) if c.is_ascii_alphabetic() => {
            chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        }
        _ => false,
    }
}

/// Parse `[urn:]attr[.sub]` (as in `sortBy` or `attributes`); the URN is everything up
/// to the last ':'. Errors are `invalidPath`.
pub fn parse_attr_path(s: &str) -> ScimResult<AttrPath> {
    let s = s.trim();
    attr_path(s).ok_or_else(|| ScimError::invalid_path(format!("invalid attribute path '{s}'")))
}

fn attr_path(s: &str) -> Option<AttrPath> {
    let (urn, rest) = if s.len() > 4 && s.get(..4)?.eq_ignore_ascii_case("urn:") {
        let i = s.rfind(':')?;
        (Some(s.get(..i)?.to_string()), s.get(i + 1..)?)
    } else {
        (None, s)
    };
    let mut parts = rest.split('.');
    let attr = parts.next()?;
    let sub = parts.next();
    if parts.next().is_some() || !valid_name(attr) || sub.is_some_and(|s| !valid_name(s)) {
        return None;
    }
    Some(AttrPath {
        urn,
        attr: attr.to_string(),
        sub: sub.map(str::to_string),
    })
}

impl std::fmt::Display for AttrPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(u) = &self.urn {
            write!(f, "{u}:")?;
        }
        write!(f, "{}", self.attr)?;
        if let Some(s) = &self.sub {
            write!(f, ".{s}")?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------- lexer

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Str(String),
    LParen,
    RParen,
    LBracket,
    RBracket,
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, ':' | '.' | '_' | '-' | '$' | '+')
}

fn lex(s: &str) -> Result<Vec<Tok>, String> {
    let mut out = Vec::new();
    let mut it = s.char_indices().peekable();
    while let Some(&(i, c)) = it.peek() {
        match c {
            c if c.is_whitespace() => {
                it.next();
            }
            '(' | ')' | '[' | ']' => {
                it.next();
                out.push(match c {
                    '(' => Tok::LParen,
                    ')' => Tok::RParen,
                    '[' => Tok::LBracket,
                    _ => Tok::RBracket,
                });
            }
            '"' => {
                it.next();
                let mut end = None;
                let mut escaped = false;
                for (j, d) in it.by_ref() {
                    if escaped {
                        escaped = false;
                    } else if d == '\\' {
                        escaped = true;
                    } else if d == '"' {
                        end = Some(j);
                        break;
                    }
                }
                let end = end.ok_or_else(|| format!("unterminated string at offset {i}"))?;
                let raw = s.get(i..=end).ok_or("bad string")?;
                let v: String = serde_json::from_str(raw)
                    .map_err(|e| format!("invalid string literal at offset {i}: {e}"))?;
                out.push(Tok::Str(v));
            }
            c if is_word_char(c) => {
                let mut end = i;
                while let Some(&(j, d)) = it.peek() {
                    if !is_word_char(d) {
                        break;
                    }
                    end = j + d.len_utf8();
                    it.next();
                }
                out.push(Tok::Word(s.get(i..end).unwrap_or_default().to_string()));
            }
            c => return Err(format!("unexpected character '{c}' at offset {i}")),
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------- parser

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
    depth: usize,
    terms: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn peek_keyword(&self, kw: &str) -> bool {
        matches!(self.peek(), Some(Tok::Word(w)) if w.eq_ignore_ascii_case(kw))
    }

    fn enter(&mut self) -> Result<(), String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(format!("filter nested more than {MAX_DEPTH} levels"));
        }
        Ok(())
    }

    fn expect(&mut self, t: Tok, what: &str) -> Result<(), String> {
        match self.next() {
            Some(x) if x == t => Ok(()),
            Some(x) => Err(format!("expected {what}, found {}", describe(&x))),
            None => Err(format!("expected {what}, found end of filter")),
        }
    }

    fn or(&mut self, in_vp: bool) -> Result<Filter, String> {
        let mut left = self.and(in_vp)?;
        while self.peek_keyword("or") {
            self.pos += 1;
            let right = self.and(in_vp)?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self, in_vp: bool) -> Result<Filter, String> {
        let mut left = self.unary(in_vp)?;
        while self.peek_keyword("and") {
            self.pos += 1;
            let right = self.unary(in_vp)?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self, in_vp: bool) -> Result<Filter, String> {
        if self.peek_keyword("not") && self.toks.get(self.pos + 1) == Some(&Tok::LParen) {
            self.pos += 2;
            self.enter()?;
            let f = self.or(in_vp)?;
            self.expect(Tok::RParen, "')'")?;
            self.depth -= 1;
            return Ok(Filter::Not(Box::new(f)));
        }
        if self.peek() == Some(&Tok::LParen) {
            self.pos += 1;
            self.enter()?;
            let f = self.or(in_vp)?;
            self.expect(Tok::RParen, "')'")?;
            self.depth -= 1;
            return Ok(f);
        }
        self.attr_exp(in_vp)
    }

    fn attr_exp(&mut self, in_vp: bool) -> Result<Filter, String> {
        self.terms += 1;
        if self.terms > MAX_TERMS {
            return Err(format!("filter has more than {MAX_TERMS} expressions"));
        }
        let word = match self.next() {
            Some(Tok::Word(w)) => w,
            Some(t) => {
                return Err(format!(
                    "expected an attribute path, found {}",
                    describe(&t)
                ))
            }
            None => return Err("expected an attribute path, found end of filter".into()),
        };
        let path = attr_path(&word).ok_or_else(|| format!("invalid attribute path '{word}'"))?;
        if self.peek() == Some(&Tok::LBracket) {
            if in_vp {
                return Err("value paths cannot be nested".into());
            }
            if path.sub.is_some() {
                return Err(format!("'{word}' cannot take a value filter"));
            }
            self.pos += 1;
            self.enter()?;
            let f = self.or(true)?;
            self.expect(Tok::RBracket, "']'")?;
            self.depth -= 1;
            return Ok(Filter::ValuePath {
                path,
                filter: Box::new(f),
            });
        }
        let op = match self.next() {
            Some(Tok::Word(w)) => w.to_ascii_lowercase(),
            Some(t) => {
                return Err(format!(
                    "expected an operator after '{word}', found {}",
                    describe(&t)
                ))
            }
            None => return Err(format!("expected an operator after '{word}'")),
        };
        let op = match op.as_str() {
            "pr" => return Ok(Filter::Present(path)),
            "eq" => CompareOp::Eq,
            "ne" => CompareOp::Ne,
            "co" => CompareOp::Co,
            "sw" => CompareOp::Sw,
            "ew" => CompareOp::Ew,
            "gt" => CompareOp::Gt,
            "ge" => CompareOp::Ge,
            "lt" => CompareOp::Lt,
            "le" => CompareOp::Le,
            other => return Err(format!("unknown operator '{other}'")),
        };
        let value = match self.next() {
            Some(Tok::Str(s)) => CompValue::Str(s),
            Some(Tok::Word(w)) => match w.to_ascii_lowercase().as_str() {
                "true" => CompValue::Bool(true),
                "false" => CompValue::Bool(false),
                "null" => CompValue::Null,
                _ => match serde_json::from_str::<Number>(&w) {
                    Ok(n) => CompValue::Num(n),
                    Err(_) => return Err(format!("invalid comparison value '{w}'")),
                },
            },
            Some(t) => {
                return Err(format!(
                    "expected a comparison value, found {}",
                    describe(&t)
                ))
            }
            None => return Err(format!("expected a comparison value after '{word}'")),
        };
        Ok(Filter::Compare { path, op, value })
    }
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Word(w) => format!("'{w}'"),
        Tok::Str(s) => format!("string {s:?}"),
        Tok::LParen => "'('".into(),
        Tok::RParen => "')'".into(),
        Tok::LBracket => "'['".into(),
        Tok::RBracket => "']'".into(),
    }
}

fn new_parser(s: &str) -> Result<Parser, String> {
    Ok(Parser {
        toks: lex(s)?,
        pos: 0,
        depth: 0,
        terms: 0,
    })
}

/// Parse a filter expression (RFC 7644 §3.4.2.2). Errors are `invalidFilter`.
pub fn parse_filter(s: &str) -> ScimResult<Filter> {
    let run = || -> Result<Filter, String> {
        let mut p = new_parser(s)?;
        if p.toks.is_empty() {
            return Err("empty filter".into());
        }
        let f = p.or(false)?;
        match p.peek() {
            None => Ok(f),
            Some(t) => Err(format!("unexpected {} after the filter", describe(t))),
        }
    };
    run().map_err(ScimError::invalid_filter)
}

/// Parse a PATCH path (RFC 7644 §3.5.2). Errors are `invalidPath`.
pub fn parse_patch_path(s: &str) -> ScimResult<PatchPath> {
    let run = || -> Result<PatchPath, String> {
        let s = s.trim();
        let Some(b) = s.find('[') else {
            let attr = attr_path(s).ok_or_else(|| format!("invalid path '{s}'"))?;
            return Ok(PatchPath {
                attr,
                filter: None,
                sub: None,
            });
        };
        let head = s.get(..b).unwrap_or_default();
        let attr = attr_path(head).ok_or_else(|| format!("invalid attribute '{head}'"))?;
        if attr.sub.is_some() {
            return Err(format!("'{head}' cannot take a value filter"));
        }
        let mut p = new_parser(s.get(b + 1..).unwrap_or_default())?;
        let f = p.or(true)?;
        p.expect(Tok::RBracket, "']'")?;
        let sub = match p.next() {
            None => None,
            Some(Tok::Word(w)) => match w.strip_prefix('.') {
                Some(n) if valid_name(n) => Some(n.to_string()),
                _ => return Err(format!("invalid sub-attribute '{w}'")),
            },
            Some(t) => return Err(format!("unexpected {} after ']'", describe(&t))),
        };
        if let Some(t) = p.peek() {
            return Err(format!("unexpected {} in path", describe(t)));
        }
        Ok(PatchPath {
            attr,
            filter: Some(f),
            sub,
        })
    };
    run().map_err(ScimError::invalid_path)
}

// ---------------------------------------------------------------- schema helpers

/// The common attributes (RFC 7643 §3.1) that every resource has.
pub fn common_attrs() -> &'static [AttrDef] {
    static COMMON: OnceLock<Vec<AttrDef>> = OnceLock::new();
    COMMON.get_or_init(|| {
        let ro = "readOnly";
        serde_json::from_value(json!([
            {"name": "id", "type": "string", "caseExact": true, "mutability": ro},
            {"name": "externalId", "type": "string", "caseExact": true},
            {"name": "schemas", "type": "reference", "multiValued": true, "caseExact": true,
             "mutability": ro},
            {"name": "meta", "type": "complex", "mutability": ro, "subAttributes": [
                {"name": "resourceType", "type": "string", "caseExact": true, "mutability": ro},
                {"name": "created", "type": "dateTime", "mutability": ro},
                {"name": "lastModified", "type": "dateTime", "mutability": ro},
                {"name": "location", "type": "reference", "caseExact": true, "mutability": ro},
                {"name": "version", "type": "string", "caseExact": true, "mutability": ro}
            ]}
        ]))
        .unwrap_or_default()
    })
}

/// A top-level attribute (and optional sub-attribute) resolved against a schema.
#[derive(Debug, Clone)]
pub struct Resolved<'a> {
    /// Schema URN of the attribute ("" for common attributes).
    pub urn: &'a str,
    pub extension: bool,
    pub def: &'a AttrDef,
    pub sub: Option<&'a AttrDef>,
    /// `scim_values.attr` key.
    pub key: String,
}

/// Resolve `path` against the schema, including the common attributes `id`,
/// `externalId`, `schemas` and `meta`. `None` when the attribute (or sub) is unknown.
pub fn resolve<'a>(schema: &'a ResourceSchema, path: &AttrPath) -> Option<Resolved<'a>> {
    let (urn, extension, def, key) = match schema.lookup(path.urn.as_deref(), &path.attr) {
        Some(f) => (f.urn, f.extension, f.def, ResourceSchema::storage_key(&f)),
        None => {
            if path
                .urn
                .as_deref()
                .is_some_and(|u| !u.eq_ignore_ascii_case(&schema.core.id))
            {
                return None;
            }
            let def = common_attrs()
                .iter()
                .find(|a| a.name.eq_ignore_ascii_case(&path.attr))?;
            ("", false, def, def.name.to_ascii_lowercase())
        }
    };
    let sub = match &path.sub {
        Some(s) => Some(def.sub(s)?),
        None => None,
    };
    Some(Resolved {
        urn,
        extension,
        def,
        sub,
        key,
    })
}

/// Case-insensitive member lookup (exact match first).
pub fn get_ci<'v>(obj: &'v Value, name: &str) -> Option<&'v Value> {
    let m = obj.as_object()?;
    m.get(name).or_else(|| {
        m.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

/// The value of a resolved top-level attribute in a resource document.
pub fn top_value<'v>(doc: &'v Value, r: &Resolved<'_>) -> Option<&'v Value> {
    if r.extension {
        get_ci(get_ci(doc, r.urn)?, &r.def.name)
    } else {
        get_ci(doc, &r.def.name)
    }
}

/// Whether string comparisons on this attribute are case-sensitive.
/// dateTime values are compared in their canonical form, so they count as caseExact.
pub fn case_exact(def: &AttrDef) -> bool {
    def.case_exact || matches!(def.ty, AttrType::Binary | AttrType::DateTime)
}

/// Normalise an RFC 3339 / xsd:dateTime to UTC `YYYY-MM-DDTHH:MM:SS[.fff]Z`.
pub fn normalize_datetime(s: &str) -> Option<String> {
    use time::format_description::well_known::Rfc3339;
    let s = s.trim();
    let dt = time::OffsetDateTime::parse(s, &Rfc3339)
        .or_else(|_| time::OffsetDateTime::parse(&format!("{s}Z"), &Rfc3339))
        .ok()?
        .to_offset(time::UtcOffset::UTC);
    let mut out = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        dt.year(),
        u8::from(dt.month()),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second()
    );
    if dt.nanosecond() != 0 {
        let frac = format!("{:09}", dt.nanosecond());
        out.push('.');
        out.push_str(frac.trim_end_matches('0'));
    }
    out.push('Z');
    Some(out)
}

/// The canonical stored text of a simple value (see `scim_values.val`), or `None`
/// for null, complex values and values of the wrong JSON type.
pub fn canonical_value(def: &AttrDef, v: &Value) -> Option<String> {
    match (def.ty, v) {
        (AttrType::Complex, _) | (_, Value::Null | Value::Array(_) | Value::Object(_)) => None,
        (AttrType::Boolean, Value::Bool(b)) => Some(b.to_string()),
        (AttrType::Boolean, _) => None,
        (AttrType::Integer | AttrType::Decimal, Value::Number(n)) => Some(n.to_string()),
        (AttrType::Integer | AttrType::Decimal, _) => None,
        (AttrType::DateTime, Value::String(s)) => {
            Some(normalize_datetime(s).unwrap_or_else(|| s.clone()))
        }
        (_, Value::String(s)) => Some(s.clone()),
        (_, Value::Number(n)) => Some(n.to_string()),
        (_, Value::Bool(b)) => Some(b.to_string()),
    }
}

/// A comparison operand checked against the attribute type and put in canonical form.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    Null,
    Bool(bool),
    Num(f64, String),
    /// Canonical text, already lower-cased when the attribute is not caseExact.
    Text(String),
}

fn is_ordering(op: CompareOp) -> bool {
    matches!(
        op,
        CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le
    )
}

/// Check `op value` against the attribute `leaf` and canonicalise the operand.
pub fn operand(leaf: &AttrDef, op: CompareOp, value: &CompValue) -> ScimResult<Operand> {
    let bad = |why: &str| Err(ScimError::invalid_filter(format!("'{}': {why}", leaf.name)));
    let substring = matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew);
    if let CompValue::Null = value {
        return match op {
            CompareOp::Eq | CompareOp::Ne => Ok(Operand::Null),
            _ => bad("null can only be compared with eq or ne"),
        };
    }
    match leaf.ty {
        AttrType::Complex => bad("complex attributes cannot be compared"),
        AttrType::Boolean => {
            if !matches!(op, CompareOp::Eq | CompareOp::Ne) {
                return bad("booleans only support eq and ne");
            }
            match value {
                CompValue::Bool(b) => Ok(Operand::Bool(*b)),
                CompValue::Str(s) if s.eq_ignore_ascii_case("true") => Ok(Operand::Bool(true)),
                CompValue::Str(s) if s.eq_ignore_ascii_case("false") => Ok(Operand::Bool(false)),
                _ => bad("expected true or false"),
            }
        }
        AttrType::Integer | AttrType::Decimal => {
            if substring {
                return bad("numbers do not support co, sw or ew");
            }
            let n = match value {
                CompValue::Num(n) => n.clone(),
                CompValue::Str(s) => match serde_json::from_str::<Number>(s.trim()) {
                    Ok(n) => n,
                    Err(_) => return bad("expected a number"),
                },
                _ => return bad("expected a number"),
            };
            match n.as_f64() {
                Some(f) => Ok(Operand::Num(f, n.to_string())),
                None => bad("expected a number"),
            }
        }
        ty => {
            if ty == AttrType::Binary && is_ordering(op) {
                return bad("binary attributes cannot be ordered");
            }
            let s = match value {
                CompValue::Str(s) => s.clone(),
                CompValue::Num(n) => n.to_string(),
                _ => return bad("expected a string"),
            };
            let s = if ty == AttrType::DateTime && !substring {
                match normalize_datetime(&s) {
                    Some(d) => d,
                    None => return bad("expected a dateTime"),
                }
            } else {
                s
            };
            Ok(Operand::Text(if case_exact(leaf) {
                s
            } else {
                s.to_lowercase()
            }))
        }
    }
}

fn compare_one(leaf: &AttrDef, op: CompareOp, v: &Value, operand: &Operand) -> bool {
    let Some(canon) = canonical_value(leaf, v) else {
        return false;
    };
    match operand {
        Operand::Null => false,
        Operand::Bool(b) => canon == b.to_string(),
        Operand::Num(f, _) => {
            let Ok(x) = canon.parse::<f64>() else {
                return false;
            };
            match op {
                CompareOp::Gt => x > *f,
                CompareOp::Ge => x >= *f,
                CompareOp::Lt => x < *f,
                CompareOp::Le => x <= *f,
                _ => x == *f,
            }
        }
        Operand::Text(t) => {
            let c = if case_exact(leaf) {
                canon
            } else {
                canon.to_lowercase()
            };
            match op {
                CompareOp::Eq | CompareOp::Ne => c == *t,
                CompareOp::Co => c.contains(t.as_str()),
                CompareOp::Sw => c.starts_with(t.as_str()),
                CompareOp::Ew => c.ends_with(t.as_str()),
                _ if leaf.ty == AttrType::DateTime => {
                    let (c, t) = (c.trim_end_matches('Z'), t.trim_end_matches('Z'));
                    match op {
                        CompareOp::Gt => c > t,
                        CompareOp::Ge => c >= t,
                        CompareOp::Lt => c < t,
                        _ => c <= t,
                    }
                }
                CompareOp::Gt => c.as_str() > t.as_str(),
                CompareOp::Ge => c.as_str() >= t.as_str(),
                CompareOp::Lt => c.as_str() < t.as_str(),
                CompareOp::Le => c.as_str() <= t.as_str(),
            }
        }
    }
}

fn present(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => a.iter().any(present),
        Value::Object(o) => o.values().any(present),
        _ => true,
    }
}

fn as_items(v: &Value) -> Vec<&Value> {
    match v {
        Value::Array(a) => a.iter().collect(),
        other => vec![other],
    }
}

/// The leaf attribute a comparison on `r` applies to (complex without sub → `value`).
pub fn compare_leaf<'a>(r: &Resolved<'a>) -> ScimResult<&'a AttrDef> {
    match r.sub {
        Some(s) => Ok(s),
        None if r.def.ty == AttrType::Complex => r.def.sub("value").ok_or_else(|| {
            ScimError::invalid_filter(format!("'{}' is complex: name a sub-attribute", r.def.name))
        }),
        None => Ok(r.def),
    }
}

enum Ctx<'a> {
    Root(&'a ResourceSchema),
    Element(&'a AttrDef),
}

/// Candidate leaf values for `path` and the leaf definition.
fn candidates<'v, 'a>(
    ctx: &Ctx<'a>,
    path: &AttrPath,
    v: &'v Value,
    for_presence: bool,
) -> ScimResult<(Vec<&'v Value>, &'a AttrDef)> {
    let unknown = || ScimError::invalid_filter(format!("unknown attribute '{path}'"));
    match ctx {
        Ctx::Element(parent) => {
            if path.urn.is_some() || path.sub.is_some() {
                return Err(unknown());
            }
            let leaf = parent.sub(&path.attr).ok_or_else(unknown)?;
            let vals = get_ci(v, &leaf.name).map(as_items).unwrap_or_default();
            Ok((vals, leaf))
        }
        Ctx::Root(schema) => {
            let r = resolve(schema, path).ok_or_else(unknown)?;
            let top = top_value(v, &r).map(as_items).unwrap_or_default();
            if for_presence && r.sub.is_none() {
                return Ok((top, r.def));
            }
            let leaf = compare_leaf(&r)?;
            if r.def.ty != AttrType::Complex {
                return Ok((top, leaf));
            }
            let vals = top
                .into_iter()
                .filter_map(|e| get_ci(e, &leaf.name))
                .flat_map(as_items)
                .collect();
            Ok((vals, leaf))
        }
    }
}

fn eval(ctx: &Ctx<'_>, f: &Filter, v: &Value) -> ScimResult<bool> {
    match f {
        Filter::And(a, b) => Ok(eval(ctx, a, v)? && eval(ctx, b, v)?),
        Filter::Or(a, b) => Ok(eval(ctx, a, v)? || eval(ctx, b, v)?),
        Filter::Not(a) => Ok(!eval(ctx, a, v)?),
        Filter::Present(path) => {
            let (vals, _) = candidates(ctx, path, v, true)?;
            Ok(vals.into_iter().any(present))
        }
        Filter::Compare { path, op, value } => {
            let (vals, leaf) = candidates(ctx, path, v, false)?;
            let operand = operand(leaf, *op, value)?;
            let vals = vals.into_iter().filter(|x| !x.is_null());
            Ok(match (&operand, op) {
                (Operand::Null, CompareOp::Eq) => vals.count() == 0,
                (Operand::Null, _) => vals.count() > 0,
                (_, CompareOp::Ne) => !vals
                    .into_iter()
                    .any(|x| compare_one(leaf, CompareOp::Eq, x, &operand)),
                _ => vals
                    .into_iter()
                    .any(|x| compare_one(leaf, *op, x, &operand)),
            })
        }
        Filter::ValuePath { path, filter } => {
            let Ctx::Root(schema) = ctx else {
                return Err(ScimError::invalid_filter("value paths cannot be nested"));
            };
            let r = value_path_target(schema, path)?;
            let items = top_value(v, &r).map(as_items).unwrap_or_default();
            for item in items {
                if eval(&Ctx::Element(r.def), filter, item)? {
                    return Ok(true);
                }
            }
            Ok(false)
        }
    }
}

/// Resolve the attribute of a value path `attr[...]`: it must be complex.
pub fn value_path_target<'a>(
    schema: &'a ResourceSchema,
    path: &AttrPath,
) -> ScimResult<Resolved<'a>> {
    let r = resolve(schema, path)
        .ok_or_else(|| ScimError::invalid_filter(format!("unknown attribute '{path}'")))?;
    if r.def.ty != AttrType::Complex || r.sub.is_some() {
        return Err(ScimError::invalid_filter(format!(
            "'{path}' is not a complex attribute and cannot take a value filter"
        )));
    }
    Ok(r)
}

/// Evaluate `filter` on a resource document.
pub fn matches(schema: &ResourceSchema, filter: &Filter, doc: &Value) -> ScimResult<bool> {
    eval(&Ctx::Root(schema), filter, doc)
}

/// Evaluate a value filter (paths relative to `parent`) on one element of the
/// complex attribute `parent`, as in `emails[type eq "work"]`.
pub fn matches_element(
    _schema: &ResourceSchema,
    parent: &AttrDef,
    filter: &Filter,
    element: &Value,
) -> ScimResult<bool> {
    eval(&Ctx::Element(parent), filter, element)
}

#[cfg(test)]
#[path = "filter_tests.rs"]
pub(crate) mod tests;
