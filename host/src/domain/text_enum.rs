//! `text_enum!`: a closed set of states stored as TEXT and spoken as
//! lower-case strings in JSON, with one place that spells each.

/// Declares an enum whose variants each have a fixed text: `as_str`,
/// `parse`, `Display`, serde (as that text) and a string-enum schema.
macro_rules! text_enum {
    ($(#[$meta:meta])* pub enum $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal,)+ }) => {
        $(#[$meta])*
        // The texts are the lower-cased variant names (a unit test in
        // `states` holds the two together): utoipa does not read a rename
        // made of a macro's literal.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
        #[serde(rename_all = "lowercase")]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            pub const ALL: &[$name] = &[$($name::$variant,)+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }

            pub fn parse(text: &str) -> Option<$name> {
                match text {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }

            /// Every text, for messages: `a, b, c`.
            pub fn list() -> String {
                [$($text,)+].join(", ")
            }
        }

        impl TryFrom<String> for $name {
            type Error = $crate::domain::UnknownText;
            fn try_from(text: String) -> Result<$name, Self::Error> {
                $name::parse(&text).ok_or($crate::domain::UnknownText {
                    kind: stringify!($name),
                    text,
                })
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
