//! The closed sets of attributes a caption can name: colour, shape, size, motion and background.

use serde::{Deserialize, Serialize};

/// An object colour from the fixed palette.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Colour {
    /// RGB 255, 0, 0.
    Red,
    /// RGB 0, 200, 0.
    Green,
    /// RGB 40, 80, 255.
    Blue,
    /// RGB 255, 220, 0.
    Yellow,
    /// RGB 0, 220, 220.
    Cyan,
    /// RGB 230, 0, 230.
    Magenta,
    /// RGB 255, 140, 0.
    Orange,
    /// RGB 255, 255, 255 (never on a white background).
    White,
}

impl Colour {
    /// Every colour, in caption-grammar order.
    pub const ALL: [Colour; 8] = [
        Colour::Red,
        Colour::Green,
        Colour::Blue,
        Colour::Yellow,
        Colour::Cyan,
        Colour::Magenta,
        Colour::Orange,
        Colour::White,
    ];

    /// The colour's RGB value, 0-255.
    pub fn rgb(self) -> [u8; 3] {
        match self {
            Colour::Red => [255, 0, 0],
            Colour::Green => [0, 200, 0],
            Colour::Blue => [40, 80, 255],
            Colour::Yellow => [255, 220, 0],
            Colour::Cyan => [0, 220, 220],
            Colour::Magenta => [230, 0, 230],
            Colour::Orange => [255, 140, 0],
            Colour::White => [255, 255, 255],
        }
    }

    /// The colour's RGB value scaled to [0, 1], as the renderer writes it.
    pub fn unit_rgb(self) -> [f32; 3] {
        unit_rgb(self.rgb())
    }

    /// The caption word for this colour.
    pub fn word(self) -> &'static str {
        match self {
            Colour::Red => "red",
            Colour::Green => "green",
            Colour::Blue => "blue",
            Colour::Yellow => "yellow",
            Colour::Cyan => "cyan",
            Colour::Magenta => "magenta",
            Colour::Orange => "orange",
            Colour::White => "white",
        }
    }
}

/// The pillar's gray, RGB 0-255.
pub const PILLAR_GRAY: [u8; 3] = [128, 128, 128];

/// Scales an RGB 0-255 triple to [0, 1].
pub(crate) fn unit_rgb(rgb: [u8; 3]) -> [f32; 3] {
    rgb.map(|channel| f32::from(channel) / 255.0)
}

/// A filled shape; `size` is the side of its bounding box.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Shape {
    /// A disc whose diameter is the size.
    Circle,
    /// An axis-aligned square whose side is the size.
    Square,
    /// An isosceles triangle, apex up, whose base width and height are the size.
    Triangle,
}

impl Shape {
    /// Every shape.
    pub const ALL: [Shape; 3] = [Shape::Circle, Shape::Square, Shape::Triangle];

    /// The caption word for this shape.
    pub fn word(self) -> &'static str {
        match self {
            Shape::Circle => "circle",
            Shape::Square => "square",
            Shape::Triangle => "triangle",
        }
    }
}

/// How big an object is: the side of its bounding box.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Size {
    /// 10 px, captioned "small".
    Small,
    /// 14 px, not named in captions.
    Default,
    /// 18 px, captioned "big".
    Big,
}

impl Size {
    /// Every size.
    pub const ALL: [Size; 3] = [Size::Small, Size::Default, Size::Big];

    /// The bounding-box side in pixels.
    pub fn pixels(self) -> f32 {
        match self {
            Size::Small => 10.0,
            Size::Default => 14.0,
            Size::Big => 18.0,
        }
    }

    /// The caption word, or `None` for the default size (which captions leave unsaid).
    pub fn word(self) -> Option<&'static str> {
        match self {
            Size::Small => Some("small"),
            Size::Default => None,
            Size::Big => Some("big"),
        }
    }
}

/// A direction of motion in image coordinates (rows grow downwards).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Towards column 0.
    Left,
    /// Towards the last column.
    Right,
    /// Towards row 0.
    Up,
    /// Towards the last row.
    Down,
}

impl Direction {
    /// Every direction.
    pub const ALL: [Direction; 4] = [Direction::Left, Direction::Right, Direction::Up, Direction::Down];

    /// The caption word for this direction.
    pub fn word(self) -> &'static str {
        match self {
            Direction::Left => "left",
            Direction::Right => "right",
            Direction::Up => "up",
            Direction::Down => "down",
        }
    }

    /// The unit step `(dx, dy)` in pixels.
    pub fn unit(self) -> (f32, f32) {
        match self {
            Direction::Left => (-1.0, 0.0),
            Direction::Right => (1.0, 0.0),
            Direction::Up => (0.0, -1.0),
            Direction::Down => (0.0, 1.0),
        }
    }

    /// Whether the motion is along the x axis.
    pub fn is_horizontal(self) -> bool {
        matches!(self, Direction::Left | Direction::Right)
    }
}

/// How fast an object moves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Speed {
    /// 0.75 px/frame, captioned "slowly".
    Slow,
    /// 1.5 px/frame, not named in captions.
    Default,
    /// 2.5 px/frame, captioned "quickly".
    Fast,
}

impl Speed {
    /// Every speed.
    pub const ALL: [Speed; 3] = [Speed::Slow, Speed::Default, Speed::Fast];

    /// The speed in pixels per frame.
    pub fn pixels_per_frame(self) -> f32 {
        match self {
            Speed::Slow => 0.75,
            Speed::Default => 1.5,
            Speed::Fast => 2.5,
        }
    }

    /// The caption word, or `None` for the default speed (which captions leave unsaid).
    pub fn word(self) -> Option<&'static str> {
        match self {
            Speed::Slow => Some("slowly"),
            Speed::Default => None,
            Speed::Fast => Some("quickly"),
        }
    }
}

/// What an object does over the clip.
///
/// An object behind a pillar is written `Moves(Left | Right, Speed::Default)` (its caption has no
/// speed word), but the renderer moves it at [`PILLAR_SPEED`](crate::PILLAR_SPEED) = 2.5 px/frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Motion {
    /// "stays still": no motion.
    Still,
    /// "moves `direction` \[slowly | quickly\]": constant velocity.
    Moves(Direction, Speed),
}

/// The clip's background colour.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Background {
    /// RGB 0, 0, 0; the default, left unsaid in captions.
    #[default]
    Black,
    /// RGB 255, 255, 255.
    White,
}

impl Background {
    /// Both backgrounds.
    pub const ALL: [Background; 2] = [Background::Black, Background::White];

    /// The background's RGB value, 0-255.
    pub fn rgb(self) -> [u8; 3] {
        match self {
            Background::Black => [0, 0, 0],
            Background::White => [255, 255, 255],
        }
    }

    /// The caption word for this background.
    pub fn word(self) -> &'static str {
        match self {
            Background::Black => "black",
            Background::White => "white",
        }
    }
}
