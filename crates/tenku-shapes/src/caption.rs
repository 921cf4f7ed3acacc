//! Captions: formatting a [`SceneSpec`] and parsing the exact grammar back.
//!
//! ```text
//! caption := object [" and " object] [" behind a gray pillar"] [" on a " bg " background"]
//! object  := "a " [size " "] colour " " shape " " motion
//! size    := "small" | "big"
//! colour  := "red" | "green" | "blue" | "yellow" | "cyan" | "magenta" | "orange" | "white"
//! shape   := "circle" | "square" | "triangle"
//! motion  := "moves " ("left" | "right" | "up" | "down") [" slowly" | " quickly"] | "stays still"
//! bg      := "black" | "white"
//! ```

use std::fmt;
use std::str::FromStr;

use crate::attributes::{Background, Colour, Direction, Motion, Shape, Size, Speed};
use crate::error::CaptionError;
use crate::scene::{ObjectSpec, SceneSpec};

/// The fixed words of the grammar that are not attribute values.
const GRAMMAR_WORDS: [&str; 10] =
    ["a", "and", "background", "behind", "gray", "moves", "on", "pillar", "stays", "still"];

/// The words the grammar uses (sorted, deduplicated), for building a word-level tokenizer.
pub fn vocabulary() -> Vec<&'static str> {
    let mut words: Vec<&'static str> = GRAMMAR_WORDS.to_vec();
    words.extend(Colour::ALL.map(Colour::word));
    words.extend(Shape::ALL.map(Shape::word));
    words.extend(Size::ALL.iter().filter_map(|size| size.word()));
    words.extend(Direction::ALL.map(Direction::word));
    words.extend(Speed::ALL.iter().filter_map(|speed| speed.word()));
    words.extend(Background::ALL.map(Background::word));
    words.sort_unstable();
    words.dedup();
    words
}

impl SceneSpec {
    /// The caption of this scene, following the grammar; a black background is left unsaid.
    pub fn caption(&self) -> String {
        let mut caption = self.objects.iter().map(object_words).collect::<Vec<_>>().join(" and ");
        if self.pillar {
            caption.push_str(" behind a gray pillar");
        }
        if self.background == Background::White {
            caption.push_str(" on a white background");
        }
        caption
    }

    /// Parses a caption of the exact grammar (lowercase words separated by whitespace) and checks
    /// the world's rules with [`SceneSpec::validate`].
    ///
    /// Errors name the offending word and what the grammar expected there.
    pub fn parse(caption: &str) -> Result<SceneSpec, CaptionError> {
        let mut words = Words::new(caption);
        let (first, mut allowed) = parse_object(&mut words)?;
        let mut objects = vec![first];
        allowed.push("and");
        if words.accept("and") {
            let (second, speed_words) = parse_object(&mut words)?;
            objects.push(second);
            allowed = speed_words;
        }
        allowed.push("behind");
        let pillar = words.accept("behind");
        if pillar {
            for word in ["a", "gray", "pillar"] {
                words.expect(word)?;
            }
            allowed.clear();
        }
        allowed.push("on");
        let mut background = Background::Black;
        if words.accept("on") {
            words.expect("a")?;
            background = words.choose("a background", &Background::ALL.map(|bg| (bg.word(), bg)))?;
            words.expect("background")?;
            allowed.clear();
        }
        words.finish(&allowed)?;
        let spec = SceneSpec { objects, pillar, background };
        spec.validate()?;
        Ok(spec)
    }
}

impl FromStr for SceneSpec {
    type Err = CaptionError;

    fn from_str(caption: &str) -> Result<Self, Self::Err> {
        SceneSpec::parse(caption)
    }
}

impl fmt::Display for SceneSpec {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.caption())
    }
}

/// `a [size] colour shape motion`.
fn object_words(object: &ObjectSpec) -> String {
    let mut words = vec!["a"];
    words.extend(object.size.word());
    words.push(object.colour.word());
    words.push(object.shape.word());
    format!("{} {}", words.join(" "), motion_words(object.motion))
}

/// The caption words of a motion, e.g. `moves left slowly` or `stays still`.
pub(crate) fn motion_words(motion: Motion) -> String {
    match motion {
        Motion::Still => "stays still".to_owned(),
        Motion::Moves(direction, speed) => match speed.word() {
            Some(word) => format!("moves {} {word}", direction.word()),
            None => format!("moves {}", direction.word()),
        },
    }
}

/// Parses one object; also returns the speed words that may still follow it (none if it said one).
fn parse_object(words: &mut Words<'_>) -> Result<(ObjectSpec, Vec<&'static str>), CaptionError> {
    words.expect("a")?;
    let sizes = [("small", Size::Small), ("big", Size::Big)];
    let colours = Colour::ALL.map(|colour| (colour.word(), colour));
    let size = words.accept_one_of(&sizes).unwrap_or(Size::Default);
    let colour = if size == Size::Default {
        words.choose_either(("a size", &sizes), ("a colour", &colours))?
    } else {
        words.choose("a colour", &colours)?
    };
    let shape = words.choose("a shape", &Shape::ALL.map(|shape| (shape.word(), shape)))?;
    let mut open_speed_words = Vec::new();
    let motion = match words.choose("a motion", &[("moves", true), ("stays", false)])? {
        false => {
            words.expect("still")?;
            Motion::Still
        }
        true => {
            let direction = words
                .choose("a direction", &Direction::ALL.map(|direction| (direction.word(), direction)))?;
            let speeds = [("slowly", Speed::Slow), ("quickly", Speed::Fast)];
            let speed = words.accept_one_of(&speeds).unwrap_or_else(|| {
                open_speed_words = vec!["slowly", "quickly"];
                Speed::Default
            });
            Motion::Moves(direction, speed)
        }
    };
    Ok((ObjectSpec { colour, shape, size, motion }, open_speed_words))
}

/// A cursor over a caption's words.
struct Words<'a> {
    words: Vec<&'a str>,
    next: usize,
}

impl<'a> Words<'a> {
    fn new(caption: &'a str) -> Self {
        Words { words: caption.split_whitespace().collect(), next: 0 }
    }

    fn peek(&self) -> Option<&'a str> {
        self.words.get(self.next).copied()
    }

    /// Consumes the next word if it is `word`.
    fn accept(&mut self, word: &str) -> bool {
        let matches = self.peek() == Some(word);
        self.next += usize::from(matches);
        matches
    }

    /// Consumes the next word if it is one of `options`, returning its value.
    fn accept_one_of<T: Copy>(&mut self, options: &[(&str, T)]) -> Option<T> {
        let word = self.peek()?;
        let value = options.iter().find(|(option, _)| *option == word).map(|(_, value)| *value)?;
        self.next += 1;
        Some(value)
    }

    /// Consumes `word` or fails naming what was found.
    fn expect(&mut self, word: &str) -> Result<(), CaptionError> {
        if self.accept(word) { Ok(()) } else { Err(self.error(format!("{word:?}"))) }
    }

    /// Consumes one of `options` (described as `what`) or fails listing them.
    fn choose<T: Copy>(&mut self, what: &str, options: &[(&str, T)]) -> Result<T, CaptionError> {
        self.accept_one_of(options).ok_or_else(|| self.error(describe(what, options)))
    }

    /// Like [`Words::choose`] for the second of two groups, listing both groups on failure.
    fn choose_either<A: Copy, B: Copy>(
        &mut self,
        first: (&str, &[(&str, A)]),
        second: (&str, &[(&str, B)]),
    ) -> Result<B, CaptionError> {
        self.accept_one_of(second.1).ok_or_else(|| {
            self.error(format!("{} or {}", describe(first.0, first.1), describe(second.0, second.1)))
        })
    }

    /// Succeeds if every word was consumed; otherwise names the leftover word and `allowed`.
    fn finish(&self, allowed: &[&str]) -> Result<(), CaptionError> {
        match self.peek() {
            None => Ok(()),
            Some(_) => {
                let quoted: Vec<String> = allowed.iter().map(|word| format!("{word:?}")).collect();
                Err(self.error(format!("{} or the end of the caption", quoted.join(", "))))
            }
        }
    }

    /// The error for the next word (or the missing one), given what was `expected`.
    fn error(&self, expected: String) -> CaptionError {
        match self.peek() {
            Some(found) => {
                CaptionError::UnexpectedWord { found: found.to_owned(), position: self.next + 1, expected }
            }
            None => CaptionError::UnexpectedEnd { expected },
        }
    }
}

/// `a colour ("red", "green", ...)`.
fn describe<T>(what: &str, options: &[(&str, T)]) -> String {
    let quoted: Vec<String> = options.iter().map(|(word, _)| format!("{word:?}")).collect();
    format!("{what} ({})", quoted.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random_captions;

    fn object(colour: Colour, shape: Shape, size: Size, motion: Motion) -> ObjectSpec {
        ObjectSpec { colour, shape, size, motion }
    }

    #[test]
    fn random_specs_round_trip_through_their_captions() {
        for spec in random_captions(2000, 7) {
            let caption = spec.caption();
            assert_eq!(SceneSpec::parse(&caption).as_ref(), Ok(&spec), "{caption}");
            assert_eq!(caption.parse::<SceneSpec>().as_ref(), Ok(&spec));
            assert_eq!(spec.to_string(), caption);
        }
    }

    #[test]
    fn hand_written_captions_format_exactly() {
        let cases = [
            (
                SceneSpec {
                    objects: vec![object(
                        Colour::Red,
                        Shape::Circle,
                        Size::Default,
                        Motion::Moves(Direction::Left, Speed::Default),
                    )],
                    pillar: false,
                    background: Background::Black,
                },
                "a red circle moves left",
            ),
            (
                SceneSpec {
                    objects: vec![
                        object(
                            Colour::Blue,
                            Shape::Square,
                            Size::Small,
                            Motion::Moves(Direction::Up, Speed::Fast),
                        ),
                        object(Colour::Yellow, Shape::Triangle, Size::Big, Motion::Still),
                    ],
                    pillar: false,
                    background: Background::White,
                },
                "a small blue square moves up quickly and a big yellow triangle stays still on a white background",
            ),
            (
                SceneSpec {
                    objects: vec![object(
                        Colour::Green,
                        Shape::Circle,
                        Size::Default,
                        Motion::Moves(Direction::Right, Speed::Default),
                    )],
                    pillar: true,
                    background: Background::Black,
                },
                "a green circle moves right behind a gray pillar",
            ),
        ];
        for (spec, caption) in cases {
            assert_eq!(spec.caption(), caption);
            assert_eq!(SceneSpec::parse(caption), Ok(spec));
        }
    }

    #[test]
    fn black_background_suffix_is_optional() {
        let spec = SceneSpec::parse("a red circle stays still on a black background").unwrap();
        assert_eq!(spec, SceneSpec::parse("a red circle stays still").unwrap());
        assert_eq!(spec.caption(), "a red circle stays still");
    }

    #[test]
    fn unknown_colour_is_named_with_the_colours_expected() {
        let error = SceneSpec::parse("a purple circle moves left").unwrap_err();
        assert!(
            matches!(&error, CaptionError::UnexpectedWord { found, position: 2, .. } if found == "purple")
        );
        let message = error.to_string();
        assert!(message.contains("\"purple\""), "{message}");
        for colour in Colour::ALL {
            assert!(message.contains(colour.word()), "{message}");
        }
    }

    #[test]
    fn grammar_errors_name_the_word_and_the_expectation() {
        let cases = [
            ("a small purple circle moves left", "purple", "a colour"),
            ("a red hexagon moves left", "hexagon", "a shape"),
            ("a red circle jumps", "jumps", "a motion"),
            ("a red circle moves sideways", "sideways", "a direction"),
            ("a red circle stays put", "put", "\"still\""),
            ("a red circle moves left fast", "fast", "\"slowly\", \"quickly\", \"and\""),
            ("a red circle moves left and a blue square stays still and", "and", "\"behind\""),
            ("a red circle moves left behind a blue pillar", "blue", "\"gray\""),
            ("a red circle moves left on a green background", "green", "a background"),
            ("the red circle moves left", "the", "\"a\""),
        ];
        for (caption, word, expected) in cases {
            let message = SceneSpec::parse(caption).unwrap_err().to_string();
            assert!(message.contains(&format!("{word:?}")), "{caption}: {message}");
            assert!(message.contains(expected), "{caption}: {message}");
        }
        let early = SceneSpec::parse("a red circle").unwrap_err();
        assert!(matches!(early, CaptionError::UnexpectedEnd { .. }), "{early}");
        assert!(early.to_string().contains("\"moves\""));
        assert!(matches!(SceneSpec::parse(""), Err(CaptionError::UnexpectedEnd { .. })));
    }

    #[test]
    fn rule_violations_are_rejected() {
        let cases = [
            ("a red circle moves left and a red square stays still", "red"),
            ("a white circle stays still on a white background", "white background"),
            (
                "a red circle moves left and a blue square moves right behind a gray pillar",
                "exactly one object",
            ),
            ("a red circle moves up behind a gray pillar", "moves up"),
            ("a red circle moves left quickly behind a gray pillar", "moves left quickly"),
            ("a red circle stays still behind a gray pillar", "stays still"),
        ];
        for (caption, mention) in cases {
            let message = SceneSpec::parse(caption).unwrap_err().to_string();
            assert!(message.contains(mention), "{caption}: {message}");
        }
    }

    #[test]
    fn vocabulary_covers_every_caption_word_and_is_sorted() {
        let vocabulary = vocabulary();
        assert!(vocabulary.windows(2).all(|pair| pair[0] < pair[1]));
        assert_eq!(vocabulary.len(), 30);
        for spec in random_captions(500, 3) {
            for word in spec.caption().split(' ') {
                assert!(vocabulary.contains(&word), "{word}");
            }
        }
    }
}
