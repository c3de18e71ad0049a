//! OpenCost's v2 allocation filter language (the `filter=` query parameter):
//! text → [`Filter`] AST → a yes/no answer for one allocation's
//! [`AllocationProperties`].
//!
//! Example: `namespace:"kubecost" | services~:"foo" | (cluster:"cluster-one" +
//! controllerKind:"deployment") | namespace:"bar","test"`.
//!
//! # Grammar
//!
//! ```text
//! filter     = [ group ] ;                          (* empty text matches everything *)
//! group      = operand , { "+" , operand }          (* AND ...                        *)
//!            | operand , { "|" , operand } ;        (* ... or OR, never both unparenthesised *)
//! operand    = comparison | "(" , group , ")" ;
//! comparison = field , op , value , { "," , value } ;
//! field      = "cluster" | "node" | "namespace" | "controllerKind" | "controllerName"
//!            | "pod" | "container" | "provider" | "services"
//!            | "department" | "environment" | "owner" | "product" | "team"
//!            | ( "label" | "annotation" ) , "[" , key , "]" ;
//! op         = ":" | "!:" | "~:" | "!~:" | "<~:" | "!<~:" | "~>:" | "!~>:" ;
//! value      = '"' , { ? any char but '"' and '\' ? | '\"' | '\\' } , '"' ;
//! key        = ? any char but ']' and '\' ? | '\]' | '\\' , { ... } ;  (* non-empty *)
//! ```
//!
//! Whitespace may appear between any two tokens. Field names are
//! case-sensitive. A backslash that does not start one of the escapes above
//! is kept literally, so OpenCost filters (which have no escapes) containing
//! a stray backslash still mean the same thing.
//!
//! # Semantics
//!
//! Each confirmed against OpenCost `core/pkg/filter` (`ast/parser.go`,
//! `matcher/*.go`, `transform/*.go`) and `core/pkg/opencost/allocationmatcher.go`:
//!
//! - A value list is an OR of the positive operator; a negated operator with
//!   a list means none of the values match (`ast/parser.go` wraps negations
//!   in AND).
//! - Negated operators are exactly `not(positive)`.
//! - The value `__unallocated__` means the empty string, for every operator
//!   (`transform/unallocated.go`).
//! - String fields: `:` equality, `~:` substring, `<~:` prefix, `~>:` suffix
//!   (`matcher/stringmatcher.go`).
//! - `services`: `:` and `~:` both mean "some service *equals* the value"
//!   (the parser turns `:` on a slice into contains, and slice contains is
//!   element equality); an empty list matches only the value `""`. `<~:` and
//!   `~>:` mean some service has the prefix/suffix; an empty list never
//!   matches them (`matcher/stringslicematcher.go`).
//! - `label[k]` / `annotation[k]`: `k` is sanitised like a Prometheus label
//!   name before lookup (`transform/promlabels.go`); a missing key compares as
//!   the empty string, so `label[app]:""` matches allocations without an
//!   `app` label (`allocationFieldMap` indexes a Go map).
//! - Aliases (`team`, …): for each label the [`LabelConfig`] names for the
//!   alias, the value is the label if present, else the annotation if
//!   present, else `""`; the alias satisfies a positive operator if ANY of
//!   those values does. With a single configured label this is exactly
//!   OpenCost's alias pass (`allocationmatcher.go`, which also lets a missing
//!   label/annotation match only `""`/`__unallocated__`). OpenCost treats a
//!   comma-separated label config as one (odd) key; we split it, as
//!   aggregation does, and take "any".
//! - Only the first parse error is reported (OpenCost collects several).

use std::fmt::{self, Write as _};
use std::str::FromStr;

use crate::error::{Error, Result};
use crate::properties::{
    Alias, AllocationProperties, LabelConfig, UNALLOCATED, sanitize_label_name,
};

/// Deepest parenthesis nesting accepted. The parser recurses per level, and
/// arbitrary input must not be able to exhaust the stack.
const MAX_DEPTH: usize = 64;

/// Every field name, as listed in "unknown field" errors.
const FIELD_LIST: &str = "cluster, node, namespace, controllerKind, controllerName, pod, \
     container, provider, services, label[<key>], annotation[<key>], department, environment, \
     owner, product, team";

const OP_LIST: &str = ":, !:, ~:, !~:, <~:, !<~:, ~>:, !~>:";

/// Printed for a filter that can never match; there is no literal "false"
/// in the language, so a contradiction stands in for it.
const NEVER: &str = r#"namespace:"" + namespace!:"""#;

/// A parsed allocation filter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Filter {
    /// Matches every allocation (the empty filter).
    All,
    /// Compare one field against a list of values. For a positive operator
    /// it matches if any value matches; for a negated one, if none of the
    /// values match the positive operator.
    Compare {
        /// What to compare.
        field: Field,
        /// How to compare.
        op: Op,
        /// The quoted values, unescaped.
        values: Vec<String>,
    },
    /// Matches when every operand matches (`+`).
    And(Vec<Filter>),
    /// Matches when at least one operand matches (`|`).
    Or(Vec<Filter>),
}

/// The left-hand side of a comparison.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Field {
    /// `cluster`
    Cluster,
    /// `node`
    Node,
    /// `namespace`
    Namespace,
    /// `controllerKind`
    ControllerKind,
    /// `controllerName`
    ControllerName,
    /// `pod`
    Pod,
    /// `container`
    Container,
    /// `provider` (the node's provider id)
    Provider,
    /// `services`, a list: see the module docs for how operators apply.
    Services,
    /// `label[<key>]`; the key as written, sanitised only at lookup.
    Label(String),
    /// `annotation[<key>]`; the key as written, sanitised only at lookup.
    Annotation(String),
    /// `department`, `environment`, `owner`, `product`, `team`, resolved
    /// through [`LabelConfig`].
    Alias(Alias),
}

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    /// `:`
    Equals,
    /// `!:`
    NotEquals,
    /// `~:`
    Contains,
    /// `!~:`
    NotContains,
    /// `<~:`
    StartsWith,
    /// `!<~:`
    NotStartsWith,
    /// `~>:`
    EndsWith,
    /// `!~>:`
    NotEndsWith,
}

impl Op {
    /// All operators.
    pub const ALL: [Op; 8] = [
        Op::Equals,
        Op::NotEquals,
        Op::Contains,
        Op::NotContains,
        Op::StartsWith,
        Op::NotStartsWith,
        Op::EndsWith,
        Op::NotEndsWith,
    ];

    /// The operator as written in filter text.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Equals => ":",
            Op::NotEquals => "!:",
            Op::Contains => "~:",
            Op::NotContains => "!~:",
            Op::StartsWith => "<~:",
            Op::NotStartsWith => "!<~:",
            Op::EndsWith => "~>:",
            Op::NotEndsWith => "!~>:",
        }
    }

    /// Whether this is one of the `!` operators.
    pub fn is_negated(self) -> bool {
        self != self.positive()
    }

    /// The operator without its `!`.
    pub fn positive(self) -> Op {
        match self {
            Op::Equals | Op::NotEquals => Op::Equals,
            Op::Contains | Op::NotContains => Op::Contains,
            Op::StartsWith | Op::NotStartsWith => Op::StartsWith,
            Op::EndsWith | Op::NotEndsWith => Op::EndsWith,
        }
    }

    fn from_text(s: &str) -> Option<Op> {
        Op::ALL.into_iter().find(|op| op.as_str() == s)
    }

    /// `op` must be positive; negation is handled once, in `Filter::matches`.
    fn test_str(self, actual: &str, value: &str) -> bool {
        match self {
            Op::Contains => actual.contains(value),
            Op::StartsWith => actual.starts_with(value),
            Op::EndsWith => actual.ends_with(value),
            _ => actual == value,
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Field {
    fn from_name(name: &str) -> Option<Field> {
        Some(match name {
            "cluster" => Field::Cluster,
            "node" => Field::Node,
            "namespace" => Field::Namespace,
            "controllerKind" => Field::ControllerKind,
            "controllerName" => Field::ControllerName,
            "pod" => Field::Pod,
            "container" => Field::Container,
            "provider" => Field::Provider,
            "services" => Field::Services,
            _ => Field::Alias(Alias::ALL.into_iter().find(|a| a.as_str() == name)?),
        })
    }

    /// `op` must be positive; `value` already has `__unallocated__` replaced.
    fn test(&self, op: Op, value: &str, props: &AllocationProperties, lc: &LabelConfig) -> bool {
        let scalar = match self {
            Field::Cluster => &props.cluster,
            Field::Node => &props.node,
            Field::Namespace => &props.namespace,
            Field::ControllerKind => &props.controller_kind,
            Field::ControllerName => &props.controller,
            Field::Pod => &props.pod,
            Field::Container => &props.container,
            Field::Provider => &props.provider_id,
            Field::Label(key) => {
                let v = props.labels.get(&sanitize_label_name(key));
                return op.test_str(v.map_or("", String::as_str), value);
            }
            Field::Annotation(key) => {
                let v = props.annotations.get(&sanitize_label_name(key));
                return op.test_str(v.map_or("", String::as_str), value);
            }
            Field::Services => {
                let s = &props.services;
                return match op {
                    Op::StartsWith => s.iter().any(|x| x.starts_with(value)),
                    Op::EndsWith => s.iter().any(|x| x.ends_with(value)),
                    // OpenCost: an empty slice "contains" only "".
                    _ if s.is_empty() => value.is_empty(),
                    _ => s.iter().any(|x| x == value),
                };
            }
            Field::Alias(alias) => {
                let mut configured = false;
                for v in lc.alias_values(props, *alias) {
                    configured = true;
                    if op.test_str(v.unwrap_or(""), value) {
                        return true;
                    }
                }
                // No label configured: the alias has no value, like a
                // missing label.
                return !configured && op.test_str("", value);
            }
        };
        op.test_str(scalar, value)
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (map, key) = match self {
            Field::Cluster => return f.write_str("cluster"),
            Field::Node => return f.write_str("node"),
            Field::Namespace => return f.write_str("namespace"),
            Field::ControllerKind => return f.write_str("controllerKind"),
            Field::ControllerName => return f.write_str("controllerName"),
            Field::Pod => return f.write_str("pod"),
            Field::Container => return f.write_str("container"),
            Field::Provider => return f.write_str("provider"),
            Field::Services => return f.write_str("services"),
            Field::Alias(a) => return f.write_str(a.as_str()),
            Field::Label(k) => ("label", k),
            Field::Annotation(k) => ("annotation", k),
        };
        f.write_str(map)?;
        f.write_char('[')?;
        write_escaped(f, key, ']')?;
        f.write_char(']')
    }
}

fn write_escaped(f: &mut impl fmt::Write, s: &str, terminator: char) -> fmt::Result {
    for c in s.chars() {
        if c == '\\' || c == terminator {
            f.write_char('\\')?;
        }
        f.write_char(c)?;
    }
    Ok(())
}

impl Filter {
    /// Parse filter text. Empty (or all-whitespace) text gives
    /// [`Filter::All`]. Every failure is an [`Error::FilterParse`] pointing
    /// at the offending token.
    pub fn parse(text: &str) -> Result<Filter> {
        Parser::new(text).parse()
    }

    /// Whether an allocation with these properties passes the filter.
    /// `labels` resolves the alias fields.
    pub fn matches(&self, props: &AllocationProperties, labels: &LabelConfig) -> bool {
        match self {
            Filter::All => true,
            Filter::And(fs) => fs.iter().all(|f| f.matches(props, labels)),
            Filter::Or(fs) => fs.iter().any(|f| f.matches(props, labels)),
            Filter::Compare { field, op, values } => {
                let positive = op.positive();
                let any = values.iter().any(|v| {
                    let v = if v == UNALLOCATED { "" } else { v.as_str() };
                    field.test(positive, v, props, labels)
                });
                any != op.is_negated()
            }
        }
    }

    /// The filter with constants folded away: `All`, empty lists and
    /// single-operand groups have no text of their own, so `Display` prints
    /// this equivalent instead.
    fn canonical(&self) -> Canon {
        let group = |fs: &[Filter], and: bool| {
            // For AND, `true` operands vanish and a `false` one decides; OR
            // is the mirror image.
            let (absorbing, neutral) = if and {
                (Canon::False, Canon::True)
            } else {
                (Canon::True, Canon::False)
            };
            let mut out = Vec::with_capacity(fs.len());
            for f in fs {
                match f.canonical() {
                    Canon::Filter(f) => out.push(f),
                    c if c == absorbing => return absorbing,
                    _ => {}
                }
            }
            match out.len() {
                0 => neutral,
                1 => Canon::Filter(out.swap_remove(0)),
                _ if and => Canon::Filter(Filter::And(out)),
                _ => Canon::Filter(Filter::Or(out)),
            }
        };
        match self {
            Filter::All => Canon::True,
            Filter::Compare { op, values, .. } if values.is_empty() => {
                if op.is_negated() {
                    Canon::True
                } else {
                    Canon::False
                }
            }
            Filter::Compare { .. } => Canon::Filter(self.clone()),
            Filter::And(fs) => group(fs, true),
            Filter::Or(fs) => group(fs, false),
        }
    }

    /// Write a canonical (constant-free) filter.
    fn write_canonical(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (fs, sep) = match self {
            Filter::All => return Ok(()),
            Filter::Compare { field, op, values } => {
                write!(f, "{field}{op}")?;
                for (i, v) in values.iter().enumerate() {
                    if i > 0 {
                        f.write_char(',')?;
                    }
                    f.write_char('"')?;
                    write_escaped(f, v, '"')?;
                    f.write_char('"')?;
                }
                return Ok(());
            }
            Filter::And(fs) => (fs, " + "),
            Filter::Or(fs) => (fs, " | "),
        };
        for (i, operand) in fs.iter().enumerate() {
            if i > 0 {
                f.write_str(sep)?;
            }
            // Parenthesise every nested group, not just mixed ones, so that
            // `a + (b + c)` parses back to the same tree.
            if matches!(operand, Filter::And(_) | Filter::Or(_)) {
                f.write_char('(')?;
                operand.write_canonical(f)?;
                f.write_char(')')?;
            } else {
                operand.write_canonical(f)?;
            }
        }
        Ok(())
    }
}

#[derive(Debug, PartialEq)]
enum Canon {
    True,
    False,
    Filter(Filter),
}

/// Canonical filter text: parsing it gives back an equal filter for every
/// filter `parse` can produce. Filters `parse` cannot produce are printed as
/// an equivalent: nested `All` and empty or single-operand groups are folded
/// away, and a filter that can never match (an empty `Or`, or a positive
/// comparison without values) prints as `namespace:"" + namespace!:""`.
impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.canonical() {
            Canon::True => Ok(()),
            Canon::False => f.write_str(NEVER),
            Canon::Filter(c) => c.write_canonical(f),
        }
    }
}

impl FromStr for Filter {
    type Err = Error;

    fn from_str(s: &str) -> Result<Filter> {
        Filter::parse(s)
    }
}

// ---------------------------------------------------------------------------
// Lexer
// ---------------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Ident(String),
    Key(String),
    Str(String),
    Op(Op),
    /// A run of operator characters that is no operator (`=`, `!=`, `::`):
    /// kept as one token so the error can quote all of it.
    BadOp,
    Comma,
    Plus,
    Pipe,
    LParen,
    RParen,
    Other,
    /// A string or key without its closing delimiter; lexing stops here.
    /// Reported only when the parser reaches it, so an earlier error wins.
    Unterminated,
    Eof,
}

#[derive(Clone, Debug)]
struct Token {
    tok: Tok,
    /// 1-based character column of the token's first character.
    col: usize,
    /// The token's source text, for error messages.
    text: String,
}

fn is_op_char(c: char) -> bool {
    matches!(c, '!' | '~' | '<' | '>' | ':' | '=')
}

fn is_ident_char(c: char) -> bool {
    // OpenCost's set: Kubernetes name characters, Unicode letters allowed.
    c.is_alphanumeric() || c == '-' || c == '_'
}

fn lex(text: &str) -> Vec<Token> {
    let chars: Vec<char> = text.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        i += 1;
        let tok = match c {
            ',' => Tok::Comma,
            '+' => Tok::Plus,
            '|' => Tok::Pipe,
            '(' => Tok::LParen,
            ')' => Tok::RParen,
            '"' | '[' => {
                let close = if c == '"' { '"' } else { ']' };
                match read_delimited(&chars, &mut i, close) {
                    Some(s) if c == '"' => Tok::Str(s),
                    Some(s) => Tok::Key(s),
                    None => {
                        toks.push(Token {
                            tok: Tok::Unterminated,
                            col: start + 1,
                            text: c.to_string(),
                        });
                        break;
                    }
                }
            }
            c if is_op_char(c) => {
                while i < chars.len() && is_op_char(chars[i]) {
                    i += 1;
                }
                let s: String = chars[start..i].iter().collect();
                Op::from_text(&s).map_or(Tok::BadOp, Tok::Op)
            }
            c if is_ident_char(c) => {
                while i < chars.len() && is_ident_char(chars[i]) {
                    i += 1;
                }
                Tok::Ident(chars[start..i].iter().collect())
            }
            _ => Tok::Other,
        };
        toks.push(Token {
            tok,
            col: start + 1,
            text: chars[start..i].iter().collect(),
        });
    }
    toks.push(Token {
        tok: Tok::Eof,
        col: chars.len() + 1,
        text: String::new(),
    });
    toks
}

/// Read up to and including `close`, starting just after the opening
/// delimiter. `None` if the input ends first.
fn read_delimited(chars: &[char], i: &mut usize, close: char) -> Option<String> {
    let mut out = String::new();
    while let Some(&c) = chars.get(*i) {
        *i += 1;
        if c == close {
            return Some(out);
        }
        match chars.get(*i) {
            Some(&next) if c == '\\' && (next == '\\' || next == close) => {
                out.push(next);
                *i += 1;
            }
            _ => out.push(c),
        }
    }
    None
}

// ---------------------------------------------------------------------------
// Parser
// ---------------------------------------------------------------------------

struct Parser<'a> {
    input: &'a str,
    toks: Vec<Token>,
    pos: usize,
    depth: usize,
}

impl<'a> Parser<'a> {
    fn new(input: &'a str) -> Self {
        Parser {
            input,
            toks: lex(input),
            pos: 0,
            depth: 0,
        }
    }

    fn peek(&self) -> &Token {
        // `lex` always ends with Eof and `bump` never moves past it.
        &self.toks[self.pos.min(self.toks.len() - 1)]
    }

    fn bump(&mut self) -> Token {
        let t = self.peek().clone();
        if t.tok != Tok::Eof {
            self.pos += 1;
        }
        t
    }

    fn error(&self, column: usize, message: String) -> Error {
        Error::FilterParse {
            input: self.input.to_owned(),
            column,
            message,
        }
    }

    fn unexpected(&self, t: &Token, expected: &str) -> Error {
        let found = match &t.tok {
            Tok::Eof => "end of input".to_owned(),
            Tok::Str(_) => format!("the string {}", t.text),
            Tok::Unterminated if t.text == "\"" => {
                "an unterminated string (no closing '\"')".to_owned()
            }
            Tok::Unterminated => "an unterminated key (no closing ']')".to_owned(),
            _ => format!("\"{}\"", t.text.escape_debug()),
        };
        self.error(t.col, format!("expected {expected}, found {found}"))
    }

    fn parse(mut self) -> Result<Filter> {
        if self.peek().tok == Tok::Eof {
            return Ok(Filter::All);
        }
        let f = self.group()?;
        let t = self.peek();
        match t.tok {
            Tok::Eof => Ok(f),
            Tok::RParen => Err(self.error(
                t.col,
                "unbalanced parenthesis: found \")\" without a matching \"(\"".to_owned(),
            )),
            _ => Err(self.unexpected(t, "\"+\", \"|\" or end of input")),
        }
    }

    fn group(&mut self) -> Result<Filter> {
        let first = self.operand()?;
        let (sep, other) = match self.peek().tok {
            Tok::Plus => (Tok::Plus, Tok::Pipe),
            Tok::Pipe => (Tok::Pipe, Tok::Plus),
            _ => return Ok(first),
        };
        let sep_col = self.peek().col;
        let mut operands = vec![first];
        while self.peek().tok == sep {
            self.bump();
            operands.push(self.operand()?);
        }
        let t = self.peek();
        if t.tok == other {
            let (s, o) = if sep == Tok::Plus {
                ("+", "|")
            } else {
                ("|", "+")
            };
            return Err(self.error(
                t.col,
                format!(
                    "cannot mix \"+\" and \"|\" at the same level: found \"{o}\" in a group \
                     joined by \"{s}\" (column {sep_col}); add parentheses, e.g. \
                     a + (b | c)"
                ),
            ));
        }
        Ok(if sep == Tok::Plus {
            Filter::And(operands)
        } else {
            Filter::Or(operands)
        })
    }

    fn operand(&mut self) -> Result<Filter> {
        if self.peek().tok != Tok::LParen {
            return self.comparison();
        }
        let open = self.bump();
        if self.depth >= MAX_DEPTH {
            return Err(self.error(
                open.col,
                format!("parentheses nested too deeply (at most {MAX_DEPTH} levels)"),
            ));
        }
        self.depth += 1;
        let inner = self.group()?;
        self.depth -= 1;
        let t = self.peek();
        match t.tok {
            Tok::RParen => {
                self.bump();
                Ok(inner)
            }
            Tok::Eof => Err(self.error(
                t.col,
                format!(
                    "unbalanced parenthesis: expected \")\" to close the \"(\" at column {}, \
                     found end of input",
                    open.col
                ),
            )),
            _ => Err(self.unexpected(t, "\"+\", \"|\" or \")\"")),
        }
    }

    fn comparison(&mut self) -> Result<Filter> {
        let field = self.field()?;

        let t = self.peek();
        let op = match t.tok {
            Tok::Op(op) => op,
            _ => {
                return Err(self.unexpected(
                    t,
                    &format!("an operator ({OP_LIST}) after field \"{field}\""),
                ));
            }
        };
        self.bump();

        let mut values = Vec::new();
        let mut after = op.as_str();
        loop {
            let t = self.peek();
            match &t.tok {
                Tok::Str(s) => values.push(s.clone()),
                _ => return Err(self.unexpected(t, &format!("a quoted value after \"{after}\""))),
            }
            self.bump();
            if self.peek().tok != Tok::Comma {
                break;
            }
            self.bump();
            after = ",";
        }
        Ok(Filter::Compare { field, op, values })
    }

    fn field(&mut self) -> Result<Field> {
        let t = self.peek().clone();
        let Tok::Ident(name) = &t.tok else {
            return Err(self.unexpected(&t, &format!("a field ({FIELD_LIST})")));
        };
        self.bump();
        if name == "label" || name == "annotation" {
            let k = self.peek();
            let key = match &k.tok {
                Tok::Key(key) if key.is_empty() => {
                    return Err(self.error(
                        k.col,
                        format!("empty key in \"{name}[]\": expected a name, e.g. {name}[app]"),
                    ));
                }
                Tok::Key(key) => key.clone(),
                _ => return Err(self.unexpected(k, &format!("\"[<key>]\" after \"{name}\""))),
            };
            self.bump();
            return Ok(if name == "label" {
                Field::Label(key)
            } else {
                Field::Annotation(key)
            });
        }
        Field::from_name(name).ok_or_else(|| {
            let known = FIELD_LIST
                .split(", ")
                .find(|f| f.eq_ignore_ascii_case(name));
            let hint = known
                .map(|f| format!(" (field names are case-sensitive: did you mean \"{f}\"?)"))
                .unwrap_or_default();
            self.error(
                t.col,
                format!("unknown field \"{name}\"{hint}; expected one of {FIELD_LIST}"),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::properties::{ArcStr, Labels};
    use proptest::prelude::*;

    fn map(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn cmp(field: Field, op: Op, values: &[&str]) -> Filter {
        Filter::Compare {
            field,
            op,
            values: values.iter().map(|v| (*v).to_owned()).collect(),
        }
    }

    fn props() -> AllocationProperties {
        AllocationProperties {
            cluster: "cluster-one".into(),
            node: "node-a".into(),
            namespace: "kubecost".into(),
            controller_kind: "deployment".into(),
            controller: "cost-analyzer".into(),
            pod: "cost-analyzer-abc".into(),
            container: "server".into(),
            provider_id: "aws:///us-east-1a/i-123".into(),
            services: vec!["svc-api".into(), "svc-web".into()],
            labels: map(&[("app_kubernetes_io_name", "opencost"), ("tier", "")]),
            annotations: map(&[("owner", "alice")]),
            ..Default::default()
        }
    }

    fn check(filter: &str, p: &AllocationProperties) -> bool {
        Filter::parse(filter)
            .unwrap_or_else(|e| panic!("{e}"))
            .matches(p, &LabelConfig::default())
    }

    fn err(text: &str) -> (usize, String) {
        match Filter::parse(text) {
            Err(Error::FilterParse {
                column,
                message,
                input,
            }) => {
                assert_eq!(input, text);
                (column, message)
            }
            other => panic!("{text:?} should fail to parse, got {other:?}"),
        }
    }

    #[test]
    fn opencost_example_parses_and_evaluates() {
        let text = r#"namespace:"kubecost" | services~:"foo" | (cluster:"cluster-one" + controllerKind:"deployment") | namespace:"bar","test""#;
        let f = Filter::parse(text).unwrap();
        assert_eq!(
            f,
            Filter::Or(vec![
                cmp(Field::Namespace, Op::Equals, &["kubecost"]),
                cmp(Field::Services, Op::Contains, &["foo"]),
                Filter::And(vec![
                    cmp(Field::Cluster, Op::Equals, &["cluster-one"]),
                    cmp(Field::ControllerKind, Op::Equals, &["deployment"]),
                ]),
                cmp(Field::Namespace, Op::Equals, &["bar", "test"]),
            ])
        );
        assert_eq!(f.to_string(), text);
        let lc = LabelConfig::default();
        let base = AllocationProperties::default();
        let with = |tweak: fn(&mut AllocationProperties)| {
            let mut p = base.clone();
            tweak(&mut p);
            f.matches(&p, &lc)
        };
        assert!(!with(|_| {}));
        assert!(with(|p| p.namespace = "kubecost".into()));
        assert!(with(|p| p.namespace = "test".into()));
        assert!(with(|p| p.namespace = "bar".into()));
        assert!(!with(|p| p.namespace = "kubecost-2".into()));
        assert!(with(|p| p.services = vec!["a".into(), "foo".into()]));
        assert!(!with(|p| p.services = vec!["foobar".into()]));
        assert!(!with(|p| p.cluster = "cluster-one".into()));
        assert!(with(|p| {
            p.cluster = "cluster-one".into();
            p.controller_kind = "deployment".into();
        }));
    }

    #[test]
    fn opencost_parser_test_inputs() {
        // From OpenCost core/pkg/filter/allocation/parser_test.go, minus the
        // fields we do not support (namespaceLabel, key-less label).
        for ok in [
            "              \n\t\t\t\n\t\t\t",
            r#"namespace: "kubecost""#,
            r#"(namespace: "kubecost")"#,
            r#"((namespace: "kubecost"))"#,
            r#"(namespace: "kubecost" + services~:"foo")"#,
            r#"namespace: "kubecost" + services~:"foo" + (cluster:"cluster-one" | controllerKind:"deployment")"#,
            "node:\"node a b c\" , \"node 12 3\"\n+\n\rnamespace : \"kubecost\"",
            r#"(namespace:"kubecost" | cluster<~:"cluster-") + services~:"foo""#,
            r#"namespace: "kubecost" | ((services~:"foo" | (cluster:"cluster-one" + controllerKind:"deployment") | namespace:"bar","test") + cluster~:"cluster-")"#,
            r#"
                namespace:"kubecost" +
                (label[app]:"cost_analyzer" +
                annotation[a1]:"b2" +
                cluster:"cluster-one") +
                node!:
                "node-123",
                "node-456" +
                controllerName:
                "kubecost-cost-analyzer",
                "kubecost-prometheus-server" +
                controllerKind!:
                "daemonset",
                "statefulset",
                "job" +
                container!:"123-abc_foo" +
                pod!:"aaaaaaaaaaaaaaaaaaaaaaaaa" +
                services~:"abc123" +
                owner!:"kubecost"
            "#,
        ] {
            let f = Filter::parse(ok).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(Filter::parse(&f.to_string()), Ok(f));
        }
        for bad in [
            "()",
            r#"namespace.:"kubecost""#,
            r#"(namespace:"kubecost"))"#,
            r#"((namespace:"kubecost")"#,
            r#"namespace:"kubecost" | services~:"foo" + cluster:"bar""#,
            r#"namespace:"kubecost" + services~:"foo" | cluster:"bar""#,
            r#"(namespace:"kubecost" + (services~:"foo" | cluster:"bar") | controllerKind<~:"dep"))"#,
        ] {
            assert!(Filter::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn empty_filter_matches_everything() {
        for text in ["", "  \n\t "] {
            assert_eq!(Filter::parse(text), Ok(Filter::All));
        }
        assert_eq!("".parse::<Filter>(), Ok(Filter::All));
        assert!(Filter::All.matches(&AllocationProperties::default(), &LabelConfig::default()));
        assert_eq!(Filter::All.to_string(), "");
    }

    #[test]
    fn every_operator_on_a_string_field() {
        let p = props(); // namespace "kubecost"
        let cases = [
            (r#"namespace:"kubecost""#, true),
            (r#"namespace:"kube""#, false),
            (r#"namespace!:"kubecost""#, false),
            (r#"namespace!:"kube""#, true),
            (r#"namespace~:"beco""#, true),
            (r#"namespace~:"x""#, false),
            (r#"namespace!~:"beco""#, false),
            (r#"namespace!~:"x""#, true),
            (r#"namespace<~:"kube""#, true),
            (r#"namespace<~:"cost""#, false),
            (r#"namespace!<~:"kube""#, false),
            (r#"namespace!<~:"cost""#, true),
            (r#"namespace~>:"cost""#, true),
            (r#"namespace~>:"kube""#, false),
            (r#"namespace!~>:"cost""#, false),
            (r#"namespace!~>:"kube""#, true),
            // Value lists: OR of the positive op, AND of the negated one.
            (r#"namespace:"a","kubecost""#, true),
            (r#"namespace!:"a","kubecost""#, false),
            (r#"namespace!:"a","b""#, true),
            (r#"namespace<~:"x","ku""#, true),
            (r#"namespace!<~:"x","ku""#, false),
            // `__unallocated__` means "".
            (r#"namespace:"__unallocated__""#, false),
            (r#"controllerName:"cost-analyzer""#, true),
            (r#"controllerKind:"deployment""#, true),
            (r#"cluster:"cluster-one""#, true),
            (r#"node:"node-a""#, true),
            (r#"pod<~:"cost-analyzer""#, true),
            (r#"container:"server""#, true),
            (r#"provider<~:"aws://""#, true),
        ];
        for (text, want) in cases {
            assert_eq!(check(text, &p), want, "{text}");
        }
        let none = AllocationProperties::default();
        assert!(check(r#"namespace:"__unallocated__""#, &none));
        assert!(check(r#"controllerKind:"""#, &none));
        assert!(!check(r#"controllerKind!:"__unallocated__""#, &none));
    }

    #[test]
    fn every_operator_on_services() {
        let p = props(); // ["svc-api", "svc-web"]
        let cases = [
            (r#"services:"svc-api""#, true),
            (r#"services:"svc""#, false),
            // OpenCost: `~:` on a list is element equality, not substring.
            (r#"services~:"svc-web""#, true),
            (r#"services~:"web""#, false),
            (r#"services!:"svc-api""#, false),
            (r#"services!~:"svc-web""#, false),
            (r#"services!~:"web""#, true),
            (r#"services<~:"svc-""#, true),
            (r#"services<~:"api""#, false),
            (r#"services!<~:"svc-""#, false),
            (r#"services~>:"-web""#, true),
            (r#"services~>:"svc""#, false),
            (r#"services!~>:"-web""#, false),
            (r#"services!~>:"svc""#, true),
            (r#"services:"x","svc-web""#, true),
            (r#"services!:"x","svc-web""#, false),
            (r#"services:"""#, false),
        ];
        for (text, want) in cases {
            assert_eq!(check(text, &p), want, "{text}");
        }
        let none = AllocationProperties::default();
        let cases = [
            (r#"services:"""#, true),
            (r#"services~:"__unallocated__""#, true),
            (r#"services:"svc-api""#, false),
            (r#"services!:"svc-api""#, true),
            (r#"services!:"""#, false),
            // OpenCost loops over the empty list: no element has any prefix.
            (r#"services<~:"""#, false),
            (r#"services~>:"""#, false),
            (r#"services!<~:"svc""#, true),
        ];
        for (text, want) in cases {
            assert_eq!(check(text, &none), want, "{text} on no services");
        }
    }

    #[test]
    fn labels_with_sanitised_keys_and_annotations() {
        let p = props(); // label app_kubernetes_io_name=opencost, tier=""; annotation owner=alice
        let cases = [
            (r#"label[app.kubernetes.io/name]:"opencost""#, true),
            (r#"label[app_kubernetes_io_name]:"opencost""#, true),
            (r#"label[app.kubernetes.io/name]!:"opencost""#, false),
            (r#"label[app.kubernetes.io/name]~:"pen""#, true),
            (r#"label[app.kubernetes.io/name]!~:"pen""#, false),
            (r#"label[app.kubernetes.io/name]<~:"open""#, true),
            (r#"label[app.kubernetes.io/name]!<~:"open""#, false),
            (r#"label[app.kubernetes.io/name]~>:"cost""#, true),
            (r#"label[app.kubernetes.io/name]!~>:"cost""#, false),
            (r#"label [ app.kubernetes.io/name ] : "opencost""#, true),
            // Missing label compares as "": `:""` matches, `!:"x"` matches.
            (r#"label[missing]:"""#, true),
            (r#"label[missing]:"__unallocated__""#, true),
            (r#"label[missing]!:"x""#, true),
            (r#"label[missing]~:"""#, true),
            (r#"label[missing]:"x""#, false),
            // Present-but-empty is indistinguishable from missing.
            (r#"label[tier]:"""#, true),
            // Labels and annotations are separate maps.
            (r#"label[owner]:"alice""#, false),
            (r#"annotation[owner]:"alice""#, true),
            (r#"annotation[owner]!:"alice""#, false),
            (r#"annotation[owner]~:"lic""#, true),
            (r#"annotation[owner]!~:"lic""#, false),
            (r#"annotation[owner]<~:"al""#, true),
            (r#"annotation[owner]!<~:"al""#, false),
            (r#"annotation[owner]~>:"ce""#, true),
            (r#"annotation[owner]!~>:"ce""#, false),
            (r#"annotation[app.kubernetes.io/name]:"opencost""#, false),
            (r#"annotation[missing]:"""#, true),
        ];
        for (text, want) in cases {
            assert_eq!(check(text, &p), want, "{text}");
        }
        // The key is kept as written; sanitising happens at lookup.
        assert_eq!(
            Filter::parse(r#"label[app.kubernetes.io/name]:"x""#),
            Ok(cmp(
                Field::Label("app.kubernetes.io/name".into()),
                Op::Equals,
                &["x"]
            ))
        );
    }

    #[test]
    fn aliases_resolve_through_label_config() {
        let lc = LabelConfig {
            department_label: "org/department".into(),
            environment_label: "stage".into(),
            owner_label: "contact".into(),
            product_label: "app.kubernetes.io/part-of".into(),
            team_label: "team,squad".into(),
        };
        let p = AllocationProperties {
            labels: map(&[
                ("org_department", "eng"),
                ("stage", "prod"),
                ("app_kubernetes_io_part_of", "opencost"),
                ("squad", "blue"),
            ]),
            annotations: map(&[("contact", "alice"), ("stage", "ignored"), ("team", "red")]),
            ..Default::default()
        };
        let m = |text: &str| Filter::parse(text).unwrap().matches(&p, &lc);
        let cases = [
            (r#"department:"eng""#, true),
            (r#"department!:"eng""#, false),
            (r#"department~:"n""#, true),
            (r#"department!~:"n""#, false),
            // Label wins over the annotation of the same name.
            (r#"environment:"prod""#, true),
            (r#"environment:"ignored""#, false),
            (r#"environment<~:"pr""#, true),
            (r#"environment!<~:"pr""#, false),
            // Annotation when there is no label.
            (r#"owner:"alice""#, true),
            (r#"owner~>:"ice""#, true),
            (r#"owner!~>:"ice""#, false),
            (r#"product:"opencost""#, true),
            (r#"product!:"opencost""#, false),
            // Any configured label: team (annotation "red") or squad ("blue").
            (r#"team:"red""#, true),
            (r#"team:"blue""#, true),
            (r#"team:"green""#, false),
            (r#"team!:"red""#, false),
            (r#"team!:"green""#, true),
            // Default config's labels mean nothing here.
            (r#"department:"""#, false),
        ];
        for (text, want) in cases {
            assert_eq!(m(text), want, "{text}");
        }
        // Without the alias label: only "" / __unallocated__ match.
        let none = AllocationProperties::default();
        let m = |text: &str| Filter::parse(text).unwrap().matches(&none, &lc);
        assert!(m(r#"team:"""#));
        assert!(m(r#"product:"__unallocated__""#));
        assert!(!m(r#"team:"red""#));
        assert!(m(r#"team!:"red""#));
        // With the default config.
        let q = AllocationProperties {
            labels: map(&[("env", "dev"), ("app", "web")]),
            ..Default::default()
        };
        assert!(check(r#"environment:"dev" + product:"web""#, &q));
        // An alias with no configured label has no value.
        let empty = LabelConfig {
            team_label: " , ".into(),
            ..LabelConfig::default()
        };
        assert!(Filter::parse(r#"team:"""#).unwrap().matches(&q, &empty));
        assert!(!Filter::parse(r#"team:"x""#).unwrap().matches(&q, &empty));
    }

    #[test]
    fn escapes_in_values_and_keys() {
        let f = Filter::parse(r#"label[a\]b\\c]:"say \"hi\" \\ \n""#).unwrap();
        assert_eq!(
            f,
            cmp(
                Field::Label(r"a]b\c".into()),
                Op::Equals,
                &[r#"say "hi" \ \n"#]
            )
        );
        assert_eq!(f.to_string(), r#"label[a\]b\\c]:"say \"hi\" \\ \\n""#);
        assert_eq!(Filter::parse(&f.to_string()), Ok(f));
    }

    #[test]
    fn error_columns_and_messages() {
        let (col, msg) = err(r#"namespace = "x""#);
        assert_eq!(col, 11);
        assert_eq!(
            msg,
            r#"expected an operator (:, !:, ~:, !~:, <~:, !<~:, ~>:, !~>:) after field "namespace", found "=""#
        );

        let (col, msg) = err(r#"namespace:"x" + pod:"y" | node:"z""#);
        assert_eq!(col, 25);
        assert!(msg.contains("cannot mix"), "{msg}");
        let (col, _) = err(r#"namespace:"x" | pod:"y" + node:"z""#);
        assert_eq!(col, 25);

        let (col, msg) = err(r#"namespace:"x"#);
        assert_eq!(col, 11);
        assert!(msg.contains("unterminated string"), "{msg}");

        let (col, msg) = err(r#"bogus:"x""#);
        assert_eq!(col, 1);
        assert!(msg.contains(r#"unknown field "bogus""#), "{msg}");
        assert!(
            msg.contains("controllerKind") && msg.contains("label[<key>]"),
            "{msg}"
        );
        let (_, msg) = err(r#"Namespace:"x""#);
        assert!(msg.contains(r#"did you mean "namespace""#), "{msg}");

        let (col, msg) = err(r#"(namespace:"x""#);
        assert_eq!(col, 15);
        assert!(msg.contains("unbalanced parenthesis"), "{msg}");
        let (col, msg) = err(r#"namespace:"x")"#);
        assert_eq!(col, 14);
        assert!(msg.contains("without a matching"), "{msg}");

        let (col, msg) = err(r#"namespace:"x" pod:"y""#);
        assert_eq!(col, 15);
        assert_eq!(msg, r#"expected "+", "|" or end of input, found "pod""#);

        let (col, msg) = err("namespace:");
        assert_eq!(col, 11);
        assert_eq!(
            msg,
            r#"expected a quoted value after ":", found end of input"#
        );
        let (col, msg) = err(r#"namespace:"a", + pod:"b""#);
        assert_eq!(col, 16);
        assert_eq!(msg, r#"expected a quoted value after ",", found "+""#);
        let (col, _) = err(r#"namespace!= "a""#);
        assert_eq!(col, 10);

        let (col, msg) = err(r#"label:"app""#);
        assert_eq!(col, 6);
        assert!(msg.contains(r#""[<key>]" after "label""#), "{msg}");
        let (col, msg) = err(r#"label[]:"x""#);
        assert_eq!(col, 6);
        assert!(msg.contains("empty key"), "{msg}");
        let (col, msg) = err(r#"annotation[app:"x""#);
        assert_eq!(col, 11);
        assert!(msg.contains("unterminated key"), "{msg}");

        let (col, msg) = err("()");
        assert_eq!(col, 2);
        assert!(msg.starts_with("expected a field"), "{msg}");
        let (col, msg) = err(r#""x""#);
        assert_eq!(col, 1);
        assert!(msg.ends_with(r#"found the string "x""#), "{msg}");

        // The earliest problem wins even if a later one is a lexing error.
        let (col, _) = err(r#"bogus:"x"#);
        assert_eq!(col, 1);

        // Columns count characters, not bytes.
        let (col, _) = err(r#"namespace:"é" = "#);
        assert_eq!(col, 15);
    }

    #[test]
    fn error_display_puts_caret_under_the_column() {
        let text = r#"namespace = "x""#;
        let shown = Filter::parse(text).unwrap_err().to_string();
        let lines: Vec<&str> = shown.lines().collect();
        assert_eq!(lines.len(), 3, "{shown}");
        assert!(
            lines[0].starts_with("filter parse error at column 11: "),
            "{shown}"
        );
        assert_eq!(lines[1], format!("  {text}"));
        assert_eq!(lines[2].find('^'), lines[1].find('='), "{shown}");
        assert_eq!(lines[2].trim(), "^");
    }

    #[test]
    fn nesting_is_bounded() {
        let ok = format!(
            "{}namespace:\"x\"{}",
            "(".repeat(MAX_DEPTH),
            ")".repeat(MAX_DEPTH)
        );
        assert!(Filter::parse(&ok).is_ok());
        let deep = "(".repeat(100_000);
        let (col, msg) = err(&deep);
        assert_eq!(col, MAX_DEPTH + 1);
        assert!(msg.contains("nested too deeply"), "{msg}");
    }

    #[test]
    fn display_is_canonical() {
        let f = Filter::parse(r#" ( namespace : "a" ,"b" )+(pod!~:"x"|node<~:"y")+(cluster:"c") "#)
            .unwrap();
        assert_eq!(
            f.to_string(),
            r#"namespace:"a","b" + (pod!~:"x" | node<~:"y") + cluster:"c""#
        );
        let nested = Filter::parse(r#"((pod:"1"))"#).unwrap();
        assert_eq!(nested.to_string(), r#"pod:"1""#);
        let same_op = Filter::parse(r#"pod:"1" + (node:"2" + cluster:"3")"#).unwrap();
        assert_eq!(same_op.to_string(), r#"pod:"1" + (node:"2" + cluster:"3")"#);
        assert_eq!(Filter::parse(&same_op.to_string()), Ok(same_op));
        for op in Op::ALL {
            for field in [
                Field::Services,
                Field::Alias(Alias::Team),
                Field::Annotation("k".into()),
            ] {
                let f = cmp(field, op, &["v"]);
                assert_eq!(Filter::parse(&f.to_string()), Ok(f));
            }
        }
    }

    #[test]
    fn display_folds_what_has_no_text() {
        let a = cmp(Field::Pod, Op::Equals, &["a"]);
        let b = cmp(Field::Node, Op::Equals, &["b"]);
        let cases = [
            (Filter::And(vec![]), ""),
            (Filter::Or(vec![]), NEVER),
            (Filter::And(vec![Filter::All, a.clone()]), r#"pod:"a""#),
            (Filter::Or(vec![Filter::All, a.clone()]), ""),
            (
                Filter::Or(vec![Filter::Or(vec![]), a.clone()]),
                r#"pod:"a""#,
            ),
            (Filter::And(vec![Filter::Or(vec![]), a.clone()]), NEVER),
            (cmp(Field::Pod, Op::Equals, &[]), NEVER),
            (cmp(Field::Pod, Op::NotEquals, &[]), ""),
            (
                Filter::Or(vec![
                    Filter::And(vec![a.clone()]),
                    Filter::Or(vec![b.clone()]),
                ]),
                r#"pod:"a" | node:"b""#,
            ),
        ];
        for (f, want) in cases {
            assert_eq!(f.to_string(), want, "{f:?}");
        }
        // The contradiction really never matches.
        let never = Filter::parse(NEVER).unwrap();
        assert!(!never.matches(&props(), &LabelConfig::default()));
        assert!(!never.matches(&AllocationProperties::default(), &LabelConfig::default()));
    }

    // -----------------------------------------------------------------------
    // Property tests
    // -----------------------------------------------------------------------

    fn field_strategy(key: BoxedStrategy<String>) -> impl Strategy<Value = Field> {
        prop_oneof![
            Just(Field::Cluster),
            Just(Field::Node),
            Just(Field::Namespace),
            Just(Field::ControllerKind),
            Just(Field::ControllerName),
            Just(Field::Pod),
            Just(Field::Container),
            Just(Field::Provider),
            Just(Field::Services),
            key.clone().prop_map(Field::Label),
            key.prop_map(Field::Annotation),
            prop::sample::select(Alias::ALL.to_vec()).prop_map(Field::Alias),
        ]
    }

    /// Filters in the form `parse` produces: no `All` below the top, groups
    /// of two or more, at least one value.
    fn canonical_filter() -> impl Strategy<Value = Filter> {
        let key = any::<String>()
            .prop_filter("keys are non-empty", |k| !k.is_empty())
            .boxed();
        let leaf = (
            field_strategy(key),
            prop::sample::select(Op::ALL.to_vec()),
            prop::collection::vec(any::<String>(), 1..4),
        )
            .prop_map(|(field, op, values)| Filter::Compare { field, op, values });
        let tree = leaf.prop_recursive(4, 32, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 2..5).prop_map(Filter::And),
                prop::collection::vec(inner, 2..5).prop_map(Filter::Or),
            ]
        });
        prop_oneof![1 => Just(Filter::All), 9 => tree]
    }

    /// Any filter at all, over a tiny alphabet so comparisons sometimes hit.
    fn any_filter() -> impl Strategy<Value = Filter> {
        let small = || "[ab]{0,2}|__unallocated__";
        let key = prop::sample::select(vec!["app".to_owned(), "a.b".to_owned(), "team".to_owned()])
            .boxed();
        let leaf = prop_oneof![
            1 => Just(Filter::All),
            9 => (
                field_strategy(key),
                prop::sample::select(Op::ALL.to_vec()),
                prop::collection::vec(small(), 0..3),
            )
                .prop_map(|(field, op, values)| Filter::Compare { field, op, values }),
        ];
        leaf.prop_recursive(4, 32, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Filter::And),
                prop::collection::vec(inner, 0..4).prop_map(Filter::Or),
            ]
        })
    }

    fn any_props() -> impl Strategy<Value = AllocationProperties> {
        let s = || "[ab]{0,2}";
        let m = || prop::collection::btree_map("app|a_b|team", s(), 0..3);
        (
            s(),
            s(),
            s(),
            s(),
            prop::collection::vec(s(), 0..3),
            m(),
            m(),
        )
            .prop_map(
                |(namespace, pod, controller_kind, provider_id, services, labels, annotations)| {
                    AllocationProperties {
                        namespace: namespace.into(),
                        pod: pod.into(),
                        controller_kind: controller_kind.into(),
                        provider_id: provider_id.into(),
                        services: services.into_iter().map(ArcStr::from).collect(),
                        labels: labels.into(),
                        annotations: annotations.into(),
                        ..Default::default()
                    }
                },
            )
    }

    proptest! {
        #[test]
        fn parse_never_panics(text in any::<String>()) {
            let _ = Filter::parse(&text);
        }

        #[test]
        fn parse_never_panics_on_filter_like_text(
            text in r#"([ ()+|,:!~<>="\\\[\]]|namespace|label|services|team|"[a\\"]*"){0,24}"#
        ) {
            if let Err(e) = Filter::parse(&text) {
                let Error::FilterParse { column, .. } = e else {
                    panic!("wrong error variant {e:?}");
                };
                prop_assert!(column >= 1 && column <= text.chars().count() + 1);
            }
        }

        #[test]
        fn display_round_trips(f in canonical_filter()) {
            let text = f.to_string();
            prop_assert_eq!(Filter::parse(&text), Ok(f), "text: {}", text);
        }

        #[test]
        fn display_preserves_meaning(
            f in any_filter(),
            p in prop::collection::vec(any_props(), 1..6),
        ) {
            let text = f.to_string();
            let back = Filter::parse(&text).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let lc = LabelConfig { team_label: "team,app".into(), ..LabelConfig::default() };
            for p in &p {
                prop_assert_eq!(back.matches(p, &lc), f.matches(p, &lc), "text: {}", text);
            }
        }
    }
}
