//! What a citizen cannot read fails here. Every screen of the gallery (the shell's and one of
//! each journey page), in Chinese and English, normal and elder mode, at every screen size a
//! hall uses and sizes between, laid out by Slint with the real fonts on its testing backend:
//!
//! - every visible text lies inside the window and inside each element that holds it (so it
//!   is not cut by its box, a card, a scrolling region or the screen edge);
//! - every text is measured: it sits in a `KText`, whose own text element is laid out at the
//!   size its words need, so "inside its box" means "fits" (a bare `Text` would be stretched
//!   to its box and could be cut or elided unseen);
//! - no text overlaps another text, nor a button it is not part of (navigation never sits on
//!   content);
//! - every interactive element, keyboards included, is at least 60 px each way in elder mode
//!   and 44 px otherwise, lies inside the window and overlaps no other;
//! - the theme's text colours keep their contrast (4.5:1, elder mode 7:1).
//!
//! A scrolling region may hold more than fits: what is out of sight is hidden whole, never cut,
//! and its 上一页/下一页 buttons are checked like any other. Each such region is turned page by
//! page to its end, and every page is checked.

#![allow(clippy::unwrap_used, elided_lifetimes_in_paths)]

mod common;

use std::fmt::Write as _;
use std::ops::ControlFlow;

use common::settle;
use i_slint_backend_testing::{AccessibleRole, ElementHandle, ElementRoot};
use kiosk_app::config::Config;
use kiosk_app::ui_bridge::offscreen::{Gallery, HALL_SIZES, VARIANTS};
use kiosk_app::ui_bridge::{Shell, ShellOptions, Theme};
use slint::ComponentHandle;

/// The hall's sizes and some between them.
const SIZES: [(u32, u32); 6] = [
    HALL_SIZES[0],
    HALL_SIZES[1],
    HALL_SIZES[2],
    (1600, 900),
    (1280, 1024),
    (1080, 1600),
];

/// Rounding of the layout to pixels.
const SLACK: f32 = 1.0;

#[derive(Clone, Copy, Debug)]
struct Rect {
    x: f32,
    y: f32,
    w: f32,
    h: f32,
}

impl Rect {
    fn of(e: &ElementHandle) -> Rect {
        let p = e.absolute_position();
        let s = e.size();
        Rect {
            x: p.x,
            y: p.y,
            w: s.width,
            h: s.height,
        }
    }
    fn inside(&self, outer: &Rect) -> bool {
        self.x >= outer.x - SLACK
            && self.y >= outer.y - SLACK
            && self.x + self.w <= outer.x + outer.w + SLACK
            && self.y + self.h <= outer.y + outer.h + SLACK
    }
    fn overlaps(&self, other: &Rect) -> bool {
        let dx = (self.x + self.w).min(other.x + other.w) - self.x.max(other.x);
        let dy = (self.y + self.h).min(other.y + other.h) - self.y.max(other.y);
        dx > SLACK && dy > SLACK
    }
    fn empty(&self) -> bool {
        self.w <= 0.0 || self.h <= 0.0
    }
}

impl std::fmt::Display for Rect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "({:.0},{:.0} {:.0}×{:.0})",
            self.x, self.y, self.w, self.h
        )
    }
}

/// One item of the tree: the elements Slint merged into it (a component's root and its use),
/// their type names and bases, where it is, and its parent.
struct Node {
    types: Vec<String>,
    ids: Vec<String>,
    label: String,
    role: Option<AccessibleRole>,
    rect: Rect,
    parent: Option<usize>,
}

impl Node {
    fn is(&self, type_name: &str) -> bool {
        self.types.iter().any(|t| t == type_name)
    }
    fn name(&self) -> String {
        self.ids
            .iter()
            .find(|i| !i.is_empty())
            .cloned()
            .or_else(|| self.types.first().cloned())
            .unwrap_or_default()
    }
}

/// The visible tree, rebuilt from the pre-order walk Slint offers: an element's descendants
/// follow it, so counting each element's descendants gives every element its parent.
fn tree(shell: &Shell) -> Vec<Node> {
    let root = shell.window().root_element();
    let mut all = Vec::new();
    root.visit_descendants(|e| {
        all.push(e);
        ControlFlow::<()>::Continue(())
    });
    let counts: Vec<usize> = all
        .iter()
        .map(|e| {
            let mut n = 0;
            e.visit_descendants(|_| {
                n += 1;
                ControlFlow::<()>::Continue(())
            });
            n
        })
        .collect();
    let window = shell.window().window().size();
    let mut nodes: Vec<Node> = vec![Node {
        types: vec!["AppWindow".into()],
        ids: Vec::new(),
        label: String::new(),
        role: None,
        rect: Rect {
            x: 0.0,
            y: 0.0,
            w: window.width as f32,
            h: window.height as f32,
        },
        parent: None,
    }];
    // (node, index of the last element that is its descendant)
    let mut open: Vec<(usize, usize)> = vec![(0, usize::MAX)];
    let mut i = 0;
    while i < all.len() {
        // Elements of one item come one after the other with the same descendants.
        let rect = Rect::of(&all[i]);
        let mut j = i;
        while j + 1 < all.len() && counts[j + 1] == counts[i] && {
            let r = Rect::of(&all[j + 1]);
            r.x == rect.x && r.y == rect.y && r.w == rect.w && r.h == rect.h
        } {
            j += 1;
        }
        while open.last().is_some_and(|&(_, end)| end < i) {
            open.pop();
        }
        let parent = open.last().map(|&(n, _)| n);
        let mut types = Vec::new();
        let mut ids = Vec::new();
        let mut label = String::new();
        let mut role = None;
        for e in &all[i..=j] {
            types.extend(e.type_name().map(|t| t.to_string()));
            types.extend(e.bases().into_iter().flatten().map(|t| t.to_string()));
            ids.extend(e.id().map(|t| t.to_string()));
            if label.is_empty() {
                label = e
                    .accessible_label()
                    .map(|l| l.to_string())
                    .unwrap_or_default();
            }
            match e.accessible_role() {
                Some(AccessibleRole::None) | None => {}
                r => role = role.or(r),
            }
        }
        nodes.push(Node {
            types,
            ids,
            label,
            role,
            rect,
            parent,
        });
        open.push((nodes.len() - 1, j + counts[i]));
        i = j + 1;
    }
    nodes
}

fn ancestors(nodes: &[Node], mut i: usize) -> impl Iterator<Item = usize> + '_ {
    std::iter::from_fn(move || {
        let p = nodes[i].parent?;
        i = p;
        Some(p)
    })
}

fn is_interactive(n: &Node) -> bool {
    matches!(
        n.role,
        Some(AccessibleRole::Button) | Some(AccessibleRole::TextInput)
    )
}

fn is_text(n: &Node) -> bool {
    n.is("Text") && !n.label.trim().is_empty() && !n.rect.empty()
}

/// Everything on this screen a citizen could not read or touch, one line each.
fn problems(nodes: &[Node], elder: bool) -> Vec<String> {
    let mut found = Vec::new();
    // A modal dialog covers the page: only what is in it can be read.
    let layer = nodes.iter().position(|n| n.is("Modal"));
    let in_layer = |i: usize| layer.is_none_or(|m| i == m || ancestors(nodes, i).any(|a| a == m));
    let texts: Vec<usize> = (0..nodes.len())
        .filter(|&i| is_text(&nodes[i]) && in_layer(i))
        .collect();
    let targets: Vec<usize> = (0..nodes.len())
        .filter(|&i| is_interactive(&nodes[i]) && !nodes[i].rect.empty() && in_layer(i))
        .collect();
    let is_ancestor = |a: usize, of: usize| ancestors(nodes, of).any(|x| x == a);

    for &t in &texts {
        let n = &nodes[t];
        let what = format!("text {:?} {}", n.label, n.rect);
        let measured = ancestors(nodes, t).take(2).any(|a| nodes[a].is("KText"));
        if !measured {
            found.push(format!(
                "{what} is not a KText: its size is not measured, it could be cut or elided"
            ));
        }
        // Items of no size (repeaters, visibility switches) hold children without bounding them.
        if let Some(a) =
            ancestors(nodes, t).find(|&a| !nodes[a].rect.empty() && !n.rect.inside(&nodes[a].rect))
        {
            let holder = &nodes[a];
            let how = if holder.is("KText") {
                "does not fit its box"
            } else {
                "sticks out of"
            };
            found.push(format!("{what} {how} {} {}", holder.name(), holder.rect));
        }
    }
    for (k, &a) in texts.iter().enumerate() {
        for &b in &texts[k + 1..] {
            if nodes[a].rect.overlaps(&nodes[b].rect) {
                found.push(format!(
                    "text {:?} {} overlaps text {:?} {}",
                    nodes[a].label, nodes[a].rect, nodes[b].label, nodes[b].rect
                ));
            }
        }
        for &b in &targets {
            if !is_ancestor(b, a) && nodes[a].rect.overlaps(&nodes[b].rect) {
                found.push(format!(
                    "text {:?} {} lies under the control {:?} {}",
                    nodes[a].label, nodes[a].rect, nodes[b].label, nodes[b].rect
                ));
            }
        }
    }
    let minimum = if elder { 60.0 } else { 44.0 };
    for (k, &b) in targets.iter().enumerate() {
        let n = &nodes[b];
        if n.rect.w < minimum - SLACK || n.rect.h < minimum - SLACK {
            found.push(format!(
                "control {:?} {} is smaller than {minimum} px",
                n.label, n.rect
            ));
        }
        if let Some(a) =
            ancestors(nodes, b).find(|&a| !nodes[a].rect.empty() && !n.rect.inside(&nodes[a].rect))
        {
            found.push(format!(
                "control {:?} {} sticks out of {} {}",
                n.label,
                n.rect,
                nodes[a].name(),
                nodes[a].rect
            ));
        }
        for &c in &targets[k + 1..] {
            if !is_ancestor(b, c) && !is_ancestor(c, b) && n.rect.overlaps(&nodes[c].rect) {
                found.push(format!(
                    "control {:?} {} overlaps control {:?} {}",
                    n.label, n.rect, nodes[c].label, nodes[c].rect
                ));
            }
        }
    }
    found
}

/// What must be on the first screen of some pages, whatever the size: the ticket's number,
/// window, people ahead and wait; the receipt's number, time limit and QR code; a guide
/// matter's materials before its legal basis; and a progress keypad of digits only.
fn first_screen_problems(name: &str, nodes: &[Node], zh: bool) -> Vec<String> {
    let shown = |needle: &str| {
        nodes
            .iter()
            .filter(|n| is_text(n))
            .find(|n| n.label.contains(needle))
            .map(|n| n.rect)
    };
    let pick = |zh_text: &'static str, en_text: &'static str| if zh { zh_text } else { en_text };
    let mut needed: Vec<&str> = Vec::new();
    let mut found = Vec::new();
    match name {
        "journey-take-number-ticket" => {
            needed.extend(["B012", pick("5–7号窗口", "Windows 5–7")]);
            needed.push(pick("前面还有 11 人", "11 people ahead"));
            needed.push(pick("35 分钟", "35 minutes"));
        }
        "journey-apply-receipt" => {
            needed.extend(["0012 03 261126 0007", pick("10个工作日", "10 working days")]);
            let qr = nodes
                .iter()
                .any(|n| n.role == Some(AccessibleRole::Image) && !n.rect.empty());
            if !qr {
                found.push("the receipt's QR code is not on the first screen".to_string());
            }
        }
        "journey-guide-matter" => {
            let materials = shown(pick("居民身份证", "Resident ID card"));
            let basis = shown(pick("设定依据", "Legal basis"));
            match (materials, basis) {
                (None, _) => found.push("the materials list is not on the first screen".into()),
                (Some(m), Some(b)) if b.y < m.y => {
                    found.push("the legal basis comes before the materials".into())
                }
                _ => {}
            }
        }
        "journey-progress-number" => {
            for letter in ["A", "B", "C", "D", "E", "F", "-"] {
                if nodes
                    .iter()
                    .any(|n| n.role == Some(AccessibleRole::Button) && n.label == letter)
                {
                    found.push(format!("the number keypad has a {letter:?} key"));
                }
            }
        }
        _ => {}
    }
    for needle in needed {
        if shown(needle).is_none() {
            found.push(format!("{needle:?} is not on the first screen"));
        }
    }
    found
}

/// WCAG 2 relative luminance.
fn luminance(c: slint::Color) -> f64 {
    let channel = |v: u8| {
        let v = f64::from(v) / 255.0;
        if v <= 0.03928 {
            v / 12.92
        } else {
            ((v + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * channel(c.red()) + 0.7152 * channel(c.green()) + 0.0722 * channel(c.blue())
}

fn contrast_problems(theme: &Theme<'_>, elder: bool) -> Vec<String> {
    let minimum = if elder { 7.0 } else { 4.5 };
    let pairs = [
        (
            "text on background",
            theme.get_text(),
            theme.get_background(),
        ),
        ("text on surface", theme.get_text(), theme.get_surface()),
        ("muted text", theme.get_text_muted(), theme.get_surface()),
        ("button text", theme.get_on_primary(), theme.get_primary()),
        ("header text", theme.get_on_header(), theme.get_header()),
        ("warning", theme.get_warning(), theme.get_warning_surface()),
        ("help button", theme.get_on_danger(), theme.get_danger()),
    ];
    pairs
        .into_iter()
        .filter_map(|(what, fg, bg)| {
            let (a, b) = (luminance(fg), luminance(bg));
            let ratio = (a.max(b) + 0.05) / (a.min(b) + 0.05);
            (ratio < minimum).then(|| format!("{what} has contrast {ratio:.2}:1 < {minimum}:1"))
        })
        .collect()
}

#[test]
fn every_screen_is_readable_in_every_language_mode_and_size() {
    i_slint_backend_testing::init_integration_test_with_mock_time();
    let shell = Shell::new(ShellOptions::from_config(&Config::simulate().unwrap())).unwrap();
    shell
        .window()
        .window()
        .set_size(slint::PhysicalSize::new(1920, 1080));
    shell.window().show().unwrap();
    let gallery = Gallery::attach(&shell);
    // Technician mode is staff's, not a citizen's: it covers the home page without hiding it
    // from this checker's walk, and it scrolls instead of paging. Its renders are looked at
    // by eye (`--screenshots`), and ui_technician*.rs test what it does.
    let names: Vec<String> = gallery
        .names()
        .into_iter()
        .filter(|n| !n.starts_with("technician"))
        .collect();
    assert!(names.len() > 20, "the gallery has every journey page");

    let mut report = String::new();
    let mut failures = 0;
    let mut screens = 0;
    for (width, height) in SIZES {
        shell
            .window()
            .window()
            .set_size(slint::PhysicalSize::new(width, height));
        for (language, elder, variant) in VARIANTS {
            shell.select_language(language);
            shell.window().global::<Theme>().set_elder_mode(elder);
            settle();
            for p in contrast_problems(&shell.window().global::<Theme>(), elder) {
                failures += 1;
                let _ = writeln!(report, "{variant}: {p}");
            }
            for name in &names {
                assert!(gallery.show(&shell, name));
                settle();
                settle();
                let zh = matches!(language, kiosk_app::config::Language::ZhCn);
                // Every page of every paged region is read, turned as a citizen would turn
                // it, until no region has a next page.
                for turn in 0..=MAX_TURNS {
                    screens += 1;
                    let nodes = tree(&shell);
                    let mut found = problems(&nodes, elder);
                    if turn == 0 {
                        found.extend(first_screen_problems(name, &nodes, zh));
                    }
                    let key = if turn == 0 {
                        format!("{width}x{height} {variant} {name}")
                    } else {
                        format!("{width}x{height} {variant} {name} (page {})", turn + 1)
                    };
                    for p in found {
                        failures += 1;
                        if report.len() < 60_000 {
                            let _ = writeln!(report, "{key}: {p}");
                        }
                    }
                    let Some(next) = next_page_button(&shell) else {
                        break;
                    };
                    if turn == MAX_TURNS {
                        failures += 1;
                        let _ =
                            writeln!(report, "{key}: still a next page after {MAX_TURNS} turns");
                        break;
                    }
                    next.invoke_accessible_default_action();
                    settle();
                    settle();
                }
            }
        }
    }
    assert!(
        failures == 0,
        "{failures} problems on {screens} screens:\n{report}"
    );
}

/// More turns than any page needs: a region that keeps offering a next page is a fault.
const MAX_TURNS: usize = 40;

/// The first enabled 下一页 button on screen, if any region has more to show.
fn next_page_button(shell: &Shell) -> Option<ElementHandle> {
    shell.window().root_element().visit_descendants(|e| {
        let label = e.accessible_label().unwrap_or_default();
        if e.accessible_role() == Some(AccessibleRole::Button)
            && label.ends_with('▼')
            && e.accessible_enabled() == Some(true)
            && e.size().width > 0.0
        {
            ControlFlow::Break(e)
        } else {
            ControlFlow::Continue(())
        }
    })
}
