"""Fill a store with a synthetic expo the size of the Canton Fair: booths, products, search index.

    .venv/bin/python scripts/gen_catalog.py [--booths 60000] [--products 2760000]
        [--data-dir DIR | --store sqlite+aiosqlite:///PATH] [--expo canton] [--seed 129]

Deterministic (same arguments, same store), bilingual (every booth and product in English and
Simplified Chinese), on the embedded SQLite store. The schema comes from the real migrations; rows
go in with executemany in large transactions with the bulk-load pragmas (no journal, no fsync) and
the search index is built at the end from the same normalisation the app uses
(:mod:`booths.search`), so the result is a store the app serves as it is. The store must be new
(``--force`` replaces it). Prints timings and the store's size; the last line is one JSON object.
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


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


@lru_cache(maxsize=1_000_000)
def toks(value: str) -> str:
    """The index text of one string (cached: generated names repeat)."""
    return " ".join(search.tokens(value))


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


def setup_store(url: str) -> Path:
    asyncio.run(migrations.upgrade(url))
    return Path(url.split("///", 1)[1])


def generate(
    conn: sqlite3.Connection, slug: str, n_booths: int, n_products: int, seed: int
) -> dict[str, float]:
    rng = random.Random(seed)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    stamp = now()
    conn.execute(
        "INSERT INTO expo (slug, title, description, timezone, languages, created_at, applications_open) "
        "VALUES (?, ?, ?, 'Asia/Shanghai', 'en,zh_Hans', ?, 1)",
        (
            slug,
            "China Import and Export Fair (synthetic)",
            "A synthetic expo at the Canton Fair's size.",
            stamp,
        ),
    )
    expo_id = conn.execute("SELECT id FROM expo WHERE slug = ?", (slug,)).fetchone()[0]
    hall_ids: list[int] = []
    for position, name in enumerate(HALLS):
        cur = conn.execute(
            "INSERT INTO hall (expo_id, name, description, translations, position) VALUES (?, ?, '', ?, ?)",
            (
                expo_id,
                f"Hall {name}",
                json.dumps({"zh_Hans": {"name": f"{name}展馆"}}, ensure_ascii=False),
                position,
            ),
        )
        hall_ids.append(int(cur.lastrowid or 0))
    areas: list[tuple[int, int]] = []  # (area id, top category id)
    parents: dict[int, int | None] = {}
    for position, (name, zh, children) in enumerate(CATEGORIES):
        cur = conn.execute(
            "INSERT INTO category (expo_id, parent_id, name, translations, position) "
            "VALUES (?, NULL, ?, ?, ?)",
            (expo_id, name, json.dumps({"zh_Hans": {"name": zh}}, ensure_ascii=False), position),
        )
        top = int(cur.lastrowid or 0)
        parents[top] = None
        for child_position, child in enumerate(children):
            cur = conn.execute(
                "INSERT INTO category (expo_id, parent_id, name, translations, position) "
                "VALUES (?, ?, ?, '{}', ?)",
                (expo_id, top, child, child_position),
            )
            areas.append((int(cur.lastrowid or 0), top))
            parents[int(cur.lastrowid or 0)] = top

    # Booths ------------------------------------------------------------------------------------------
    booths: list[tuple[int, str, str, int, str, int]] = []  # id, en, zh, hall, country, area index
    rows = []
    fts = []
    for i, (en, zh) in enumerate(booth_names(n_booths, rng)):
        booth_id = i + 1
        hall = hall_ids[i * len(hall_ids) // n_booths]
        country = COUNTRIES[rng.randrange(len(COUNTRIES))]
        area = rng.randrange(len(areas))
        product_word, zh_product_word = NOUNS[rng.randrange(len(NOUNS))]
        tagline = f"Maker of {product_word}s since {1980 + rng.randrange(44)}"
        description = f"{en} makes {product_word}s and more for buyers in {rng.randrange(20, 120)} countries."
        zh_tagline = f"专业生产{zh_product_word}"
        zh_description = f"{zh}专业生产{zh_product_word}，产品远销{rng.randrange(20, 120)}个国家。"  # noqa: RUF001
        translations = {"zh_Hans": {"name": zh, "tagline": zh_tagline, "description": zh_description}}
        rows.append(
            (
                booth_id,
                expo_id,
                hall,
                f"{HALLS[hall_ids.index(hall)]}-{i + 1:05d}",
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
                stamp,
                stamp,
            )
        )
        booths.append((booth_id, en, zh, hall, country, area))
        doc = search.Doc(
            doc_id=search.booth_doc_id(expo_id, booth_id),
            expo_id=expo_id,
            name=search.tokens(en, zh),
            body=search.tokens(" ".join([tagline, description, zh_tagline, zh_description])),
            hall_id=hall,
            country=country,
        )
        fts.append(tuple(doc.sqlite_row().values()))
    conn.executemany(
        "INSERT INTO booth (id, expo_id, hall_id, number, tier, name, tagline, description, translations, "
        "country, contact_name, contact_email, contact_phone, website, links, status, created_at, "
        "updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    conn.execute("INSERT INTO search_doc (rowid, name, body, tags) VALUES (0, '', '', '')")  # warm the table
    conn.execute("DELETE FROM search_doc WHERE rowid = 0")
    conn.executemany("INSERT INTO search_doc (rowid, name, body, tags) VALUES (?, ?, ?, ?)", fts)
    conn.commit()
    timings["booths_s"] = time.perf_counter() - started

    # Products -----------------------------------------------------------------------------------------
    started = time.perf_counter()
    product_id = 0
    per_booth = [n_products // n_booths] * n_booths
    for i in range(n_products - sum(per_booth)):
        per_booth[i] += 1
    product_sql = (
        "INSERT INTO product (id, booth_id, expo_id, category_id, name, description, translations, "
        "price_min, price_max, currency, moq, tags, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    )
    fts_sql = "INSERT INTO search_doc (rowid, name, body, tags) VALUES (?, ?, ?, ?)"
    products: list[tuple[object, ...]] = []
    fts = []
    for (booth_id, booth_en, booth_zh, hall, country, area), count in zip(booths, per_booth, strict=True):
        booth_tokens = toks(booth_en) + " " + toks(booth_zh)
        place_tags = f"h{hall} k{country.lower()}"
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
            tags = [noun, use]
            products.append(
                (
                    product_id,
                    booth_id,
                    expo_id,
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
                    json.dumps(tags),
                    stamp,
                    stamp,
                )
            )
            # The same document booths.search.product_doc builds from these rows.
            name_text = toks(f"{adj} {mat} {noun} {model}") + " " + toks(zh_name)
            body_text = toks(f"{description} {zh_description} {noun} {use}") + " " + booth_tokens
            fts.append(
                (
                    search.product_doc_id(expo_id, product_id),
                    name_text,
                    body_text,
                    f"{place_tags} c{area_id} c{top}",
                )
            )
            if len(products) >= CHUNK:
                conn.executemany(product_sql, products)
                conn.executemany(fts_sql, fts)
                conn.commit()
                products.clear()
                fts.clear()
                done = product_id / n_products
                print(
                    f"\r  products: {product_id:,} ({done:.0%}) {time.perf_counter() - started:.0f} s",
                    end="",
                    flush=True,
                )
    conn.executemany(product_sql, products)
    conn.executemany(fts_sql, fts)
    conn.commit()
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--booths", type=int, default=60_000)
    parser.add_argument("--products", type=int, default=2_760_000)
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--data-dir", help="data directory; the store is DATA_DIR/expo.db (default ./data)")
    where.add_argument("--store", help="sqlite+aiosqlite:///PATH")
    parser.add_argument("--expo", default="canton", help="the expo's slug")
    parser.add_argument("--seed", type=int, default=129)
    parser.add_argument("--force", action="store_true", help="replace an existing store")
    args = parser.parse_args()
    if args.booths < 1 or args.products < 0:
        parser.error("--booths must be at least 1 and --products at least 0")
    url = args.store or f"sqlite+aiosqlite:///{Path(args.data_dir or 'data').resolve() / 'expo.db'}"
    if not is_sqlite(url):
        parser.error("gen_catalog fills the embedded SQLite store only (--store sqlite+aiosqlite:///PATH)")
    path = Path(url.split("///", 1)[1])
    if path.exists():
        if not args.force:
            parser.error(f"{path} exists; pass --force to replace it")
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    total = time.perf_counter()
    started = time.perf_counter()
    setup_store(url)
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
    timings = generate(conn, args.expo, args.booths, args.products, args.seed)
    conn.isolation_level = None
    conn.execute("PRAGMA journal_mode=WAL")
    conn.close()
    elapsed = time.perf_counter() - total
    size = sum(Path(f"{path}{s}").stat().st_size for s in ("", "-wal") if Path(f"{path}{s}").exists())
    result = {
        "store": str(path),
        "expo": args.expo,
        "booths": args.booths,
        "products": args.products,
        "seconds": round(elapsed, 1),
        "schema_s": round(schema_s, 1),
        **{k: round(v, 1) for k, v in timings.items()},
        "store_bytes": size,
    }
    print(
        f"{args.booths:,} booths and {args.products:,} products in {elapsed:.0f} s; "
        f"store {size / 2**30:.2f} GiB at {path}"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
