//! Nation (民族) codes of GB/T 3304: the 56 nations, plus 97 (其他, other) and 98
//! (外国血统中国籍人士, Chinese citizens of foreign origin).

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The GB/T 3304 table: code and the name printed on the card (without the 族 suffix).
const NATIONS: [(u8, &str); 58] = [
    (1, "汉"),
    (2, "蒙古"),
    (3, "回"),
    (4, "藏"),
    (5, "维吾尔"),
    (6, "苗"),
    (7, "彝"),
    (8, "壮"),
    (9, "布依"),
    (10, "朝鲜"),
    (11, "满"),
    (12, "侗"),
    (13, "瑶"),
    (14, "白"),
    (15, "土家"),
    (16, "哈尼"),
    (17, "哈萨克"),
    (18, "傣"),
    (19, "黎"),
    (20, "傈僳"),
    (21, "佤"),
    (22, "畲"),
    (23, "高山"),
    (24, "拉祜"),
    (25, "水"),
    (26, "东乡"),
    (27, "纳西"),
    (28, "景颇"),
    (29, "柯尔克孜"),
    (30, "土"),
    (31, "达斡尔"),
    (32, "仫佬"),
    (33, "羌"),
    (34, "布朗"),
    (35, "撒拉"),
    (36, "毛南"),
    (37, "仡佬"),
    (38, "锡伯"),
    (39, "阿昌"),
    (40, "普米"),
    (41, "塔吉克"),
    (42, "怒"),
    (43, "乌孜别克"),
    (44, "俄罗斯"),
    (45, "鄂温克"),
    (46, "德昂"),
    (47, "保安"),
    (48, "裕固"),
    (49, "京"),
    (50, "塔塔尔"),
    (51, "独龙"),
    (52, "鄂伦春"),
    (53, "赫哲"),
    (54, "门巴"),
    (55, "珞巴"),
    (56, "基诺"),
    (97, "其他"),
    (98, "外国血统中国籍人士"),
];

/// A nation code that is in the GB/T 3304 table.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Nation(u8);

impl Nation {
    /// The nation with this code, if the table has it.
    pub fn from_code(code: u8) -> Option<Self> {
        NATIONS
            .iter()
            .any(|(c, _)| *c == code)
            .then_some(Self(code))
    }

    /// The nation with this name (`汉`, `蒙古`, also accepting a trailing `族`).
    pub fn from_name(name: &str) -> Option<Self> {
        let name = name.strip_suffix('族').unwrap_or(name);
        NATIONS
            .iter()
            .find(|(_, n)| *n == name)
            .map(|(c, _)| Self(*c))
    }

    /// The two-digit code.
    pub fn code(self) -> u8 {
        self.0
    }

    /// The name as printed on the card.
    pub fn name(self) -> &'static str {
        NATIONS
            .iter()
            .find(|(c, _)| *c == self.0)
            .map(|(_, n)| *n)
            .expect("a Nation is only built from a code in the table")
    }

    /// Every nation in the table, in code order.
    pub fn all() -> impl Iterator<Item = Self> {
        NATIONS.iter().map(|(c, _)| Self(*c))
    }
}

impl std::fmt::Debug for Nation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Nation({:02} {})", self.0, self.name())
    }
}

impl std::fmt::Display for Nation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for Nation {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Nation {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        Self::from_name(&name)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown nation {name:?}")))
    }
}
