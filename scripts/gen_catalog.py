"""Fill a store with a synthetic expo the size of the Canton Fair: booths, products, search index.

    .venv/bin/python scripts/gen_catalog.py [--booths 60000] [--products 2760000] [--expo canton]
        [--seed 129] [--force]
        [--data-dir DIR | --store sqlite+aiosqlite:///PATH | --store postgresql+asyncpg://HOST/DB]

Deterministic (same arguments, same rows on either store: ids, names, search documents) and
bilingual (every booth and product in English and Simplified Chinese). The schema comes from the
real migrations and the search documents from the normalisation the app uses
(:mod:`booths.search`), so the result is a store the app serves as it is. The store must be new
(``--force`` replaces the file, or drops and recreates the PostgreSQL database).

* SQLite: executemany in large transactions with the bulk-load pragmas (no journal, no fsync),
  the FTS5 index merged into one segment at the end.
* PostgreSQL (:mod:`catalog_postgres`): rows go in with COPY while the next chunk is generated,
  constraints and indexes are built after the load, then the common search terms' bitmaps (as
  ``expo catalog index`` builds them), then VACUUM ANALYZE.

Prints timings and the store's size; the last line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sqlite3
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from booths import search  # noqa: E402
from expo import migrations  # noqa: E402
from expo.db import is_sqlite  # noqa: E402

# (English, Chinese) vocabularies. Products are "<adjective> <material> <noun>", so names repeat
# across booths the way real catalogues do, and every word has a Chinese counterpart.
CATEGORIES = [
    (
        "Electronics & Household Electrical Appliances",
        "电子及家电",
        ["Consumer Electronics", "Household Appliances", "Electronic Components", "Smart Home"],
    ),
    ("Lighting Equipment", "照明", ["Indoor Lighting", "Outdoor Lighting", "LED Products"]),
    ("Vehicles & Spare Parts", "车辆及配件", ["Vehicles", "Vehicle Spare Parts", "Motorcycles", "Bicycles"]),
    (
        "Machinery",
        "机械",
        ["Processing Machinery", "Power Equipment", "Construction Machinery", "Agricultural Machinery"],
    ),
    ("Hardware & Tools", "五金工具", ["Hardware", "Tools", "Fasteners"]),
    ("Building & Decorative Materials", "建材", ["Building Materials", "Sanitary Ware", "Kitchen & Bath"]),
    ("Chemical Products", "化工产品", ["Chemicals", "Plastics", "Paints & Coatings"]),
    ("Energy", "能源", ["New Energy", "Solar", "Batteries"]),
    ("Consumer Goods", "日用消费品", ["Kitchenware", "Household Items", "Personal Care"]),
    ("Gifts", "礼品", ["Gifts & Premiums", "Toys", "Festival Products"]),
    ("Home Decorations", "家居装饰", ["Home Decor", "Garden Products", "Furniture"]),
    ("Textiles & Garments", "纺织服装", ["Home Textiles", "Fabrics", "Men's Wear", "Women's Wear"]),
    ("Shoes", "鞋", ["Sports Shoes", "Casual Shoes"]),
    ("Office Supplies, Cases & Bags", "办公箱包", ["Office Supplies", "Cases & Bags", "Stationery"]),
    ("Recreation Products", "休闲用品", ["Sports Goods", "Outdoor Gear", "Pet Products"]),
    (
        "Medicines, Health Products & Medical Devices",
        "医药保健",
        ["Medical Devices", "Health Products", "Medicines"],
    ),
]
ADJECTIVES = [
    ("portable", "便携式"),
    ("wireless", "无线"),
    ("smart", "智能"),
    ("folding", "折叠"),
    ("waterproof", "防水"),
    ("industrial", "工业"),
    ("compact", "紧凑型"),
    ("heavy duty", "重型"),
    ("eco friendly", "环保"),
    ("rechargeable", "充电式"),
    ("adjustable", "可调节"),
    ("luxury", "豪华"),
    ("classic", "经典"),
    ("mini", "迷你"),
    ("professional", "专业"),
    ("automatic", "自动"),
    ("ergonomic", "人体工学"),
    ("vintage", "复古"),
    ("modular", "模块化"),
    ("solar", "太阳能"),
    ("digital", "数字"),
    ("magnetic", "磁性"),
    ("ultrasonic", "超声波"),
    ("transparent", "透明"),
    ("anti slip", "防滑"),
    ("high speed", "高速"),
    ("low noise", "低噪音"),
    ("multi function", "多功能"),
    ("outdoor", "户外"),
    ("kids", "儿童"),
]
MATERIALS = [
    ("stainless steel", "不锈钢"),
    ("aluminium", "铝合金"),
    ("bamboo", "竹制"),
    ("ceramic", "陶瓷"),
    ("cotton", "纯棉"),
    ("silk", "真丝"),
    ("leather", "皮革"),
    ("glass", "玻璃"),
    ("oak", "橡木"),
    ("silicone", "硅胶"),
    ("carbon fiber", "碳纤维"),
    ("copper", "铜"),
    ("nylon", "尼龙"),
    ("wool", "羊毛"),
    ("porcelain", "瓷"),
    ("titanium", "钛"),
    ("rattan", "藤编"),
    ("marble", "大理石"),
    ("linen", "亚麻"),
    ("polyester", "涤纶"),
    ("brass", "黄铜"),
    ("cast iron", "铸铁"),
    ("plastic", "塑料"),
    ("paper", "纸"),
]
NOUNS = [
    ("lamp", "台灯"),
    ("lantern", "灯笼"),
    ("kettle", "水壶"),
    ("drill", "电钻"),
    ("hammer", "锤子"),
    ("scarf", "围巾"),
    ("teapot", "茶壶"),
    ("backpack", "背包"),
    ("sneaker", "运动鞋"),
    ("chair", "椅子"),
    ("table", "桌子"),
    ("vase", "花瓶"),
    ("blanket", "毯子"),
    ("speaker", "音箱"),
    ("charger", "充电器"),
    ("headphones", "耳机"),
    ("camera", "相机"),
    ("bicycle", "自行车"),
    ("helmet", "头盔"),
    ("tent", "帐篷"),
    ("umbrella", "雨伞"),
    ("wallet", "钱包"),
    ("notebook", "笔记本"),
    ("pen", "钢笔"),
    ("mug", "马克杯"),
    ("bowl", "碗"),
    ("knife", "刀具"),
    ("pan", "平底锅"),
    ("toaster", "烤面包机"),
    ("blender", "搅拌机"),
    ("fan", "风扇"),
    ("heater", "取暖器"),
    ("humidifier", "加湿器"),
    ("router", "路由器"),
    ("drone", "无人机"),
    ("watch", "手表"),
    ("bracelet", "手镯"),
    ("necklace", "项链"),
    ("sofa", "沙发"),
    ("curtain", "窗帘"),
    ("pillow", "枕头"),
    ("towel", "毛巾"),
    ("jacket", "夹克"),
    ("shirt", "衬衫"),
    ("dress", "连衣裙"),
    ("boots", "靴子"),
    ("suitcase", "行李箱"),
    ("stapler", "订书机"),
    ("toy car", "玩具车"),
    ("puzzle", "拼图"),
    ("yoga mat", "瑜伽垫"),
    ("dumbbell", "哑铃"),
    ("fishing rod", "鱼竿"),
    ("pet bed", "宠物床"),
    ("thermometer", "体温计"),
    ("massager", "按摩器"),
    ("wheelchair", "轮椅"),
    ("solar panel", "太阳能板"),
    ("battery", "电池"),
    ("inverter", "逆变器"),
    ("valve", "阀门"),
    ("pump", "水泵"),
    ("motor", "电机"),
    ("generator", "发电机"),
    ("excavator", "挖掘机"),
    ("tractor", "拖拉机"),
    ("faucet", "水龙头"),
    ("sink", "水槽"),
    ("tile", "瓷砖"),
    ("paint", "涂料"),
    ("adhesive", "胶粘剂"),
    ("screw", "螺丝"),
]
USES = [
    ("home", "家用"),
    ("office", "办公"),
    ("hotel", "酒店"),
    ("garden", "花园"),
    ("travel", "旅行"),
    ("camping", "露营"),
    ("kitchen", "厨房"),
    ("workshop", "车间"),
    ("hospital", "医院"),
    ("school", "学校"),
]
BOOTH_WORDS = [
    ("Golden", "金"),
    ("Ocean", "海"),
    ("Dragon", "龙"),
    ("Pearl", "珠"),
    ("Sun", "阳"),
    ("Star", "星"),
    ("Harbor", "港"),
    ("Lotus", "莲"),
    ("Jade", "玉"),
    ("Phoenix", "凤"),
    ("Summit", "峰"),
    ("River", "江"),
    ("Bright", "明"),
    ("Eastern", "东方"),
    ("Grand", "宏"),
    ("Unity", "合"),
    ("Evergreen", "长青"),
    ("Crown", "冠"),
]
BOOTH_KINDS = [
    ("Industrial", "实业"),
    ("Trading", "贸易"),
    ("Technology", "科技"),
    ("Manufacturing", "制造"),
    ("Electric", "电器"),
    ("Textile", "纺织"),
    ("Crafts", "工艺"),
    ("Import & Export", "进出口"),
]
CITIES = [
    ("Guangzhou", "广州"),
    ("Shenzhen", "深圳"),
    ("Ningbo", "宁波"),
    ("Xiamen", "厦门"),
    ("Yiwu", "义乌"),
    ("Foshan", "佛山"),
    ("Dongguan", "东莞"),
    ("Suzhou", "苏州"),
    ("Qingdao", "青岛"),
    ("Tianjin", "天津"),
]
COUNTRIES = ["CN"] * 16 + ["HK", "TW", "IN", "VN", "TR", "TH", "MY", "ID", "PK", "BR", "DE", "IT", "US", "KR"]
CURRENCIES = ["USD"] * 6 + ["CNY", "CNY", "EUR", "HKD"]
HALLS = [f"{area}{n}" for area in ("A", "B", "C", "D") for n in range(1, 6)]
CHUNK = 50_000

CHUNK = 50_000
EXPO_ID = 1  # the store is new: every id is known in advance, the same on both stores

BOOTH_COLUMNS = [
    "id",
    "expo_id",
    "hall_id",
    "number",
    "tier",
    "name",
    "tagline",
    "description",
    "translations",
    "country",
    "contact_name",
    "contact_email",
    "contact_phone",
    "website",
    "links",
    "status",
    "created_at",
    "updated_at",
]
PRODUCT_COLUMNS = [
    "id",
    "booth_id",
    "expo_id",
    "category_id",
    "name",
    "description",
    "translations",
    "price_min",
    "price_max",
    "currency",
    "moq",
    "tags",
    "created_at",
    "updated_at",
]


@lru_cache(maxsize=1_000_000)
def toks(value: str) -> str:
    """The index text of one string (cached: generated names repeat)."""
    return " ".join(search.tokens(value))


@dataclass(frozen=True)
class IndexDoc:
    """A search document as both stores need it: the normalised name and body text (tokens joined
    by spaces) and the filter values (see :class:`booths.search.Doc`)."""

    doc_id: int
    name: str
    body: str
    hall_id: int
    country: str
    categories: tuple[int, ...] = ()

    def tags(self) -> str:
        return " ".join([f"h{self.hall_id}", f"k{self.country.lower()}", *(f"c{c}" for c in self.categories)])

    def tsvector(self) -> str:
        doc = search.Doc(
            self.doc_id, EXPO_ID, self.name.split(), self.body.split(), self.hall_id, self.country
        )
        doc.categories = list(self.categories)
        return doc.tsvector()


@dataclass(frozen=True)
class Rows:
    """A chunk of one table's rows (values in column order, timestamps as aware datetimes) and
    their search documents."""

    rows: list[tuple[object, ...]]
    docs: list[IndexDoc]


class Catalogue:
    """The generated expo: fixed rows (expo, halls, categories), booths, then products in chunks.

    One random stream drives it all, consumed in the same order whichever store is filled.
    """

    def __init__(self, slug: str, n_booths: int, n_products: int, seed: int) -> None:
        self.slug, self.n_booths, self.n_products = slug, n_booths, n_products
        self.rng = random.Random(seed)
        self.stamp = datetime.now(UTC)
        self.hall_ids = list(range(1, len(HALLS) + 1))
        # (id, parent id, name, translations, position), parents first; areas: (child id, top id).
        self.categories: list[tuple[int, int | None, str, str, int]] = []
        self.areas: list[tuple[int, int]] = []
        for position, (name, zh, children) in enumerate(CATEGORIES):
            top = len(self.categories) + 1
            zh_json = json.dumps({"zh_Hans": {"name": zh}}, ensure_ascii=False)
            self.categories.append((top, None, name, zh_json, position))
            for child_position, child in enumerate(children):
                self.categories.append((len(self.categories) + 1, top, child, "{}", child_position))
                self.areas.append((len(self.categories), top))
        self._booths: list[tuple[int, str, str, int, str, int]] = []  # id, en, zh, hall, country, area

    def expo_row(self) -> dict[str, object]:
        return {
            "id": EXPO_ID,
            "slug": self.slug,
            "title": "China Import and Export Fair (synthetic)",
            "description": "A synthetic expo at the Canton Fair's size.",
            "timezone": "Asia/Shanghai",
            "languages": "en,zh_Hans",
            "created_at": self.stamp,
            "applications_open": True,
            "translations": "{}",
        }

    def hall_rows(self) -> list[tuple[int, int, str, str, str, int]]:
        """(id, expo_id, name, description, translations, position)."""
        return [
            (
                hall_id,
                EXPO_ID,
                f"Hall {name}",
                "",
                json.dumps({"zh_Hans": {"name": f"{name}展馆"}}, ensure_ascii=False),
                i,
            )
            for i, (hall_id, name) in enumerate(zip(self.hall_ids, HALLS, strict=True))
        ]

    def booths(self) -> Rows:
        rng, n_booths = self.rng, self.n_booths
        out = Rows([], [])
        for i, (en, zh) in enumerate(booth_names(n_booths, rng)):
            booth_id = i + 1
            hall = self.hall_ids[i * len(self.hall_ids) // n_booths]
            country = COUNTRIES[rng.randrange(len(COUNTRIES))]
            area = rng.randrange(len(self.areas))
            product_word, zh_product_word = NOUNS[rng.randrange(len(NOUNS))]
            tagline = f"Maker of {product_word}s since {1980 + rng.randrange(44)}"
            description = (
                f"{en} makes {product_word}s and more for buyers in {rng.randrange(20, 120)} countries."
            )
            zh_tagline = f"专业生产{zh_product_word}"
            zh_description = f"{zh}专业生产{zh_product_word}，产品远销{rng.randrange(20, 120)}个国家。"  # noqa: RUF001
            translations = {"zh_Hans": {"name": zh, "tagline": zh_tagline, "description": zh_description}}
            out.rows.append(
                (
                    booth_id,
                    EXPO_ID,
                    hall,
                    f"{HALLS[hall - 1]}-{i + 1:05d}",
                    "standard",
                    en,
                    tagline,
                    description,
                    json.dumps(translations, ensure_ascii=False),
                    country,
                    "",
                    "",
                    "",
                    "",
                    "[]",
                    "approved",
                    self.stamp,
                    self.stamp,
                )
            )
            self._booths.append((booth_id, en, zh, hall, country, area))
            # The same document booths.search.booth_doc builds from this row.
            out.docs.append(
                IndexDoc(
                    search.booth_doc_id(EXPO_ID, booth_id),
                    " ".join(search.tokens(en, zh)),
                    " ".join(search.tokens(" ".join([tagline, description, zh_tagline, zh_description]))),
                    hall,
                    country,
                )
            )
        return out

    def products(self) -> Iterator[Rows]:
        """The products in chunks of CHUNK, booth by booth (call after :meth:`booths`)."""
        rng, areas = self.rng, self.areas
        per_booth = [self.n_products // self.n_booths] * self.n_booths
        for i in range(self.n_products - sum(per_booth)):
            per_booth[i] += 1
        product_id = 0
        out = Rows([], [])
        for (booth_id, booth_en, booth_zh, hall, country, area), count in zip(
            self._booths, per_booth, strict=True
        ):
            booth_tokens = toks(booth_en) + " " + toks(booth_zh)
            for _ in range(count):
                product_id += 1
                # Mostly the booth's own area, sometimes a neighbouring one.
                area_id, top = areas[area if rng.random() < 0.8 else rng.randrange(len(areas))]
                adj, zh_adj = ADJECTIVES[rng.randrange(len(ADJECTIVES))]
                mat, zh_mat = MATERIALS[rng.randrange(len(MATERIALS))]
                noun, zh_noun = NOUNS[rng.randrange(len(NOUNS))]
                use, zh_use = USES[rng.randrange(len(USES))]
                model = f"{chr(65 + rng.randrange(26))}{rng.randrange(100, 1000)}"
                name = f"{adj.capitalize()} {mat} {noun} {model}"
                zh_name = f"{zh_adj}{zh_mat}{zh_noun} {model}"
                description = f"{adj.capitalize()} {noun} made of {mat} for {use} use."
                zh_description = f"{zh_use}{zh_adj}{zh_noun}，{zh_mat}材质。"  # noqa: RUF001
                low = rng.randrange(50, 50_000)
                out.rows.append(
                    (
                        product_id,
                        booth_id,
                        EXPO_ID,
                        area_id,
                        name,
                        description,
                        json.dumps(
                            {"zh_Hans": {"name": zh_name, "description": zh_description}}, ensure_ascii=False
                        ),
                        low,
                        low + rng.randrange(0, 20_000),
                        CURRENCIES[rng.randrange(len(CURRENCIES))],
                        rng.choice((1, 10, 50, 100, 500, 1000)),
                        json.dumps([noun, use]),
                        self.stamp,
                        self.stamp,
                    )
                )
                # The same document booths.search.product_doc builds from these rows.
                out.docs.append(
                    IndexDoc(
                        search.product_doc_id(EXPO_ID, product_id),
                        toks(f"{adj} {mat} {noun} {model}") + " " + toks(zh_name),
                        toks(f"{description} {zh_description} {noun} {use}") + " " + booth_tokens,
                        hall,
                        country,
                        (area_id, top),
                    )
                )
                if len(out.rows) >= CHUNK:
                    yield out
                    out = Rows([], [])
        if out.rows:
            yield out


def booth_names(count: int, rng: random.Random) -> Iterator[tuple[str, str]]:
    for i in range(count):
        word, zh_word = BOOTH_WORDS[rng.randrange(len(BOOTH_WORDS))]
        word2, zh_word2 = BOOTH_WORDS[rng.randrange(len(BOOTH_WORDS))]
        kind, zh_kind = BOOTH_KINDS[rng.randrange(len(BOOTH_KINDS))]
        city, zh_city = CITIES[rng.randrange(len(CITIES))]
        # The number keeps names unique per expo (the store requires it).
        yield (
            f"{city} {word} {word2} {kind} Co. {i + 1}",
            f"{zh_city}{zh_word}{zh_word2}{zh_kind}有限公司{i + 1}",
        )


def progress(done: int, total: int, started: float) -> None:
    print(
        f"\r  products: {done:,} ({done / max(total, 1):.0%}) {time.perf_counter() - started:.0f} s",
        end="",
        flush=True,
    )


# SQLite -----------------------------------------------------------------------------------------------


def _sqlite_values(row: tuple[object, ...]) -> tuple[object, ...]:
    return tuple(v.strftime("%Y-%m-%d %H:%M:%S.%f") if isinstance(v, datetime) else v for v in row)


def fill_sqlite(conn: sqlite3.Connection, catalogue: Catalogue) -> dict[str, float]:
    timings: dict[str, float] = {}
    started = time.perf_counter()
    expo = {k: _sqlite_values((v,))[0] for k, v in catalogue.expo_row().items()}
    conn.execute(
        f"INSERT INTO expo ({', '.join(expo)}) VALUES ({', '.join('?' * len(expo))})",
        tuple(expo.values()),
    )
    conn.executemany(
        "INSERT INTO hall (id, expo_id, name, description, translations, position) VALUES (?, ?, ?, ?, ?, ?)",
        catalogue.hall_rows(),
    )
    conn.executemany(
        "INSERT INTO category (id, expo_id, parent_id, name, translations, position) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [(cid, EXPO_ID, *rest) for cid, *rest in catalogue.categories],
    )
    fts_sql = "INSERT INTO search_doc (rowid, name, body, tags) VALUES (?, ?, ?, ?)"
    booths = catalogue.booths()
    placeholders = ", ".join("?" * len(BOOTH_COLUMNS))
    conn.executemany(
        f"INSERT INTO booth ({', '.join(BOOTH_COLUMNS)}) VALUES ({placeholders})",
        [_sqlite_values(r) for r in booths.rows],
    )
    conn.execute("INSERT INTO search_doc (rowid, name, body, tags) VALUES (0, '', '', '')")  # warm the table
    conn.execute("DELETE FROM search_doc WHERE rowid = 0")
    conn.executemany(fts_sql, [(d.doc_id, d.name, d.body, d.tags()) for d in booths.docs])
    conn.commit()
    timings["booths_s"] = time.perf_counter() - started

    started = time.perf_counter()
    placeholders = ", ".join("?" * len(PRODUCT_COLUMNS))
    product_sql = f"INSERT INTO product ({', '.join(PRODUCT_COLUMNS)}) VALUES ({placeholders})"
    done = 0
    for chunk in catalogue.products():
        conn.executemany(product_sql, [_sqlite_values(r) for r in chunk.rows])
        conn.executemany(fts_sql, [(d.doc_id, d.name, d.body, d.tags()) for d in chunk.docs])
        conn.commit()
        done += len(chunk.rows)
        progress(done, catalogue.n_products, started)
    print()
    timings["products_s"] = time.perf_counter() - started
    started = time.perf_counter()
    # Merge the index's segments into one b-tree: faster queries for the whole life of the store.
    conn.execute("INSERT INTO search_doc (search_doc) VALUES ('optimize')")
    conn.commit()
    timings["optimize_s"] = time.perf_counter() - started
    started = time.perf_counter()
    conn.execute("ANALYZE")
    conn.commit()
    timings["analyze_s"] = time.perf_counter() - started
    return timings


def sqlite_store(url: str, catalogue: Catalogue, force: bool) -> tuple[dict[str, float], int, str]:
    """Fill a new SQLite store; the timings, the store's size and its path."""
    path = Path(url.split("///", 1)[1])
    if path.exists():
        if not force:
            raise SystemExit(f"{path} exists; pass --force to replace it")
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    started = time.perf_counter()
    asyncio.run(migrations.upgrade(url))
    schema_s = time.perf_counter() - started
    conn = sqlite3.connect(path, isolation_level=None)
    # Bulk load: one writer, nothing to protect until the end. The store goes back to WAL after.
    for pragma in (
        "journal_mode=OFF",
        "synchronous=OFF",
        "cache_size=-1000000",
        "temp_store=MEMORY",
        "foreign_keys=OFF",
    ):
        conn.execute(f"PRAGMA {pragma}")
    conn.isolation_level = "DEFERRED"
    timings = {"schema_s": schema_s, **fill_sqlite(conn, catalogue)}
    conn.isolation_level = None
    conn.execute("PRAGMA journal_mode=WAL")
    conn.close()
    size = sum(Path(f"{path}{s}").stat().st_size for s in ("", "-wal") if Path(f"{path}{s}").exists())
    return timings, size, str(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--booths", type=int, default=60_000)
    parser.add_argument("--products", type=int, default=2_760_000)
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--data-dir", help="data directory; the store is DATA_DIR/expo.db (default ./data)")
    where.add_argument("--store", help="sqlite+aiosqlite:///PATH or postgresql+asyncpg://HOST:PORT/DATABASE")
    parser.add_argument("--expo", default="canton", help="the expo's slug")
    parser.add_argument("--seed", type=int, default=129)
    parser.add_argument("--force", action="store_true", help="replace an existing store (file or database)")
    args = parser.parse_args()
    if args.booths < 1 or args.products < 0:
        parser.error("--booths must be at least 1 and --products at least 0")
    url = args.store or f"sqlite+aiosqlite:///{Path(args.data_dir or 'data').resolve() / 'expo.db'}"
    catalogue = Catalogue(args.expo, args.booths, args.products, args.seed)
    total = time.perf_counter()
    if is_sqlite(url):
        timings, size, where_to = sqlite_store(url, catalogue, args.force)
    elif url.startswith("postgresql"):
        import catalog_postgres

        timings, size = asyncio.run(catalog_postgres.fill(url, catalogue, args.force))
        where_to = url
    else:
        parser.error("--store takes sqlite+aiosqlite:///PATH or postgresql+asyncpg://HOST:PORT/DATABASE")
    elapsed = time.perf_counter() - total
    result = {
        "store": where_to,
        "expo": args.expo,
        "booths": args.booths,
        "products": args.products,
        "seconds": round(elapsed, 1),
        **{k: round(v, 1) for k, v in timings.items()},
        "store_bytes": size,
    }
    print(
        f"{args.booths:,} booths and {args.products:,} products in {elapsed:.0f} s; "
        f"store {size / 2**30:.2f} GiB at {where_to}"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
