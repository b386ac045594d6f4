//! A test component exporting a plain typed WIT world (`wit/world.wit`), with nothing
//! warden-specific: warden offers each exported function as a tool. Also carries hostile
//! functions (loop, memory hog, NaN) and a resource interface that warden must skip.

wit_bindgen::generate!({
    path: "wit",
    world: "typed",
});

use exports::demo::typed::counters::{self, GuestCounter};
use exports::demo::typed::hostile;
use exports::demo::typed::text::{self, Colour, Permissions, Shape, Stats};

struct Typed;

impl Guest for Typed {
    fn greet(name: String, excited: Option<bool>) -> String {
        let end = if excited == Some(true) { "!" } else { "." };
        format!("Hello, {name}{end}")
    }
}

impl text::Guest for Typed {
    fn shout(text: String) -> String {
        text.to_uppercase()
    }

    fn count(text: String) -> Stats {
        let words: Vec<&str> = text.split_whitespace().collect();
        let total: usize = words.iter().map(|w| w.chars().count()).sum();
        Stats {
            words: words.len() as u32,
            bytes: text.len() as u64,
            mean_word_length: if words.is_empty() {
                0.0
            } else {
                total as f64 / words.len() as f64
            },
            longest: words
                .iter()
                .max_by_key(|w| w.chars().count())
                .map(|w| w.to_string()),
        }
    }

    fn parse_int(text: String) -> Result<i64, String> {
        text.trim()
            .parse()
            .map_err(|e| format!("{text:?} is not a decimal integer: {e}"))
    }

    fn area(shape: Shape) -> f64 {
        match shape {
            Shape::Circle(r) => std::f64::consts::PI * r * r,
            Shape::Square(s) => s * s,
            Shape::Point => 0.0,
        }
    }

    fn next_colour(colour: Colour) -> Colour {
        match colour {
            Colour::Red => Colour::Green,
            Colour::Green => Colour::Blue,
            Colour::Blue => Colour::Red,
        }
    }

    fn toggle(perms: Permissions) -> Permissions {
        // Keep `read`, drop `write`, set `execute`.
        (perms & Permissions::READ) | Permissions::EXECUTE
    }

    fn successor(n: u64) -> u64 {
        n.wrapping_add(1)
    }

    fn bytes_len(data: Vec<u8>) -> u32 {
        data.len() as u32
    }

    fn swap(pair: (i32, String)) -> (String, i32) {
        (pair.1, pair.0)
    }
}

impl hostile::Guest for Typed {
    fn spin() {
        let mut x: u64 = 0;
        loop {
            x = std::hint::black_box(x.wrapping_add(1));
        }
    }

    fn hog(mib: u32) -> u32 {
        let mut held = Vec::new();
        for _ in 0..mib {
            held.push(vec![1u8; 1 << 20]);
        }
        std::hint::black_box(&held);
        held.len() as u32
    }

    fn not_a_number() -> f64 {
        f64::NAN
    }
}

struct Counter(u32);

impl GuestCounter for Counter {
    fn new(start: u32) -> Self {
        Counter(start)
    }

    fn get(&self) -> u32 {
        self.0
    }
}

impl counters::Guest for Typed {
    type Counter = Counter;

    fn read_counter(c: counters::CounterBorrow<'_>) -> u32 {
        c.get::<Counter>().0
    }
}

export!(Typed);
