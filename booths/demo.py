"""The demo expo's floor: three halls, a small category tree, seven approved booths and their products.

Everything is fixed data in English with Chinese (``zh_Hans``) translations, created through
:mod:`booths.services` (so the search index and the audit log see it like any organizer's work) by
:func:`seed_floor`. Seeding is idempotent: each hall, category, booth and product is looked up by
its name first (a category by name and parent, a product by name within its booth) and created only
when missing; what exists is left as it is, even if someone edited it since.
"""

# Chinese text uses full-width punctuation and a Turkish name its dotless i, on purpose.
# ruff: noqa: RUF001

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from booths.demo_pictures import draw_booth_pictures
from booths.models import Booth, Category, Hall, Product
from booths.services import (
    BoothFields,
    CategoryFields,
    HallFields,
    Placement,
    ProductFields,
    TextFields,
    add_staff,
    booth_role,
    create_booth,
    create_product,
    save_category,
    save_hall,
)
from expo.accounts.models import User
from expo.config import Settings
from expo.expos.models import Expo
from expo.permissions import BoothRole

ZH = "zh_Hans"


@dataclass(frozen=True)
class DemoHall:
    name: str
    zh_name: str
    description: str
    zh_description: str


@dataclass(frozen=True)
class DemoCategory:
    name: str
    zh_name: str
    parent: str | None = None


@dataclass(frozen=True)
class DemoProduct:
    """A product; prices in hundredths of ``currency``; ``category`` names a :data:`CATEGORIES` leaf."""

    name: str
    zh_name: str
    description: str
    zh_description: str
    category: str
    price_min: int
    price_max: int
    currency: str
    moq: int
    tags: tuple[str, ...]


@dataclass(frozen=True)
class DemoBooth:
    name: str
    zh_name: str
    tagline: str
    zh_tagline: str
    description: str
    zh_description: str
    country: str
    contact_name: str
    contact_email: str
    contact_phone: str
    website: str
    hall: str
    number: str
    tier: str
    products: tuple[DemoProduct, ...]


@dataclass(frozen=True)
class DemoFloor:
    """What :func:`seed_floor` found or created, in the order of the fixed data."""

    halls: tuple[Hall, ...]
    categories: tuple[Category, ...]
    booths: tuple[Booth, ...]
    exhibitor_booth: Booth


HALLS = (
    DemoHall(
        "Hall A: Electronics & Lighting",
        "A馆：电子与照明",
        "Consumer electronics, chargers and audio, LED and designer lighting.",
        "消费电子、充电与音频产品、LED 及设计师灯具。",
    ),
    DemoHall(
        "Hall B: Home & Garden",
        "B馆：家居与园艺",
        "Solid-wood furniture, cookware and kitchen tools.",
        "实木家具、炊具及厨房用品。",
    ),
    DemoHall(
        "Hall C: Textiles",
        "C馆：纺织品",
        "Cotton, linen and silk for the home and for fashion.",
        "家用及时装用棉、麻、丝绸面料与制品。",
    ),
)

# Parents come before their children: seeding creates them in this order.
CATEGORIES = (
    DemoCategory("Electronics", "电子产品"),
    DemoCategory("Consumer electronics", "消费电子", "Electronics"),
    DemoCategory("Lighting", "照明", "Electronics"),
    DemoCategory("Home & Garden", "家居与园艺"),
    DemoCategory("Furniture", "家具", "Home & Garden"),
    DemoCategory("Kitchenware", "厨具", "Home & Garden"),
    DemoCategory("Textiles", "纺织品"),
)

P = DemoProduct

BRIGHTWAVE = DemoBooth(
    name="Shenzhen Brightwave Electronics",
    zh_name="深圳明波电子",
    tagline="Wireless audio and fast charging, made in Shenzhen",
    zh_tagline="无线音频与快充，深圳制造",
    description=(
        "Brightwave designs and manufactures wireless earbuds, smart speakers and GaN chargers for "
        "retail brands in 40 countries. OEM and ODM welcome; CE, FCC and RoHS certified."
    ),
    zh_description="明波电子为 40 个国家的零售品牌设计和生产无线耳机、智能音箱和氮化镓充电器。"
    "欢迎 OEM 与 ODM 合作，产品已通过 CE、FCC 和 RoHS 认证。",
    country="CN",
    contact_name="Lily Chen",
    contact_email="sales@brightwave.example",
    contact_phone="+86 755 8800 1200",
    website="https://brightwave.example",
    hall="Hall A: Electronics & Lighting",
    number="A-101",
    tier="premium",
    products=(
        P(
            "Wireless noise-cancelling earbuds",
            "无线降噪耳机",
            "Bluetooth 5.3 earbuds with active noise cancelling and 30 hours of battery with the case.",
            "蓝牙 5.3 主动降噪耳机，配合充电盒续航 30 小时。",
            "Consumer electronics",
            1850,
            2400,
            "USD",
            500,
            ("earbuds", "bluetooth", "audio"),
        ),
        P(
            "65 W GaN USB-C charger",
            "65瓦氮化镓快速充电器",
            "Three-port gallium nitride charger, small enough for a pocket, charges a laptop at full speed.",
            "三口氮化镓充电器，小巧便携，可为笔记本电脑全速充电。",
            "Consumer electronics",
            990,
            1290,
            "USD",
            1000,
            ("charger", "usb-c", "gan"),
        ),
        P(
            "Portable power bank 20000 mAh",
            "20000毫安移动电源",
            "Slim power bank with 22.5 W fast charging and a display of the remaining charge.",
            "轻薄移动电源，支持 22.5 瓦快充，带电量显示屏。",
            "Consumer electronics",
            1100,
            1500,
            "USD",
            500,
            ("power bank", "battery"),
        ),
        P(
            "Smart speaker with voice assistant",
            "语音助手智能音箱",
            "360-degree sound, Wi-Fi and Bluetooth, works with the common voice assistants.",
            "360 度环绕音效，支持 Wi-Fi 与蓝牙，兼容主流语音助手。",
            "Consumer electronics",
            2600,
            3400,
            "USD",
            300,
            ("speaker", "smart home", "audio"),
        ),
        P(
            "Fitness smartwatch",
            "运动智能手表",
            "Heart rate, sleep and GPS tracking; ten-day battery; waterproof to 50 metres.",
            "支持心率、睡眠与 GPS 追踪，续航十天，50 米防水。",
            "Consumer electronics",
            2900,
            3900,
            "USD",
            300,
            ("smartwatch", "fitness", "wearable"),
        ),
    ),
)

BOOTHS = (
    BRIGHTWAVE,
    DemoBooth(
        name="Zhongshan Lumina Lighting",
        zh_name="中山露明照明",
        tagline="LED lighting for homes, shops and gardens",
        zh_tagline="家居、商铺与庭院 LED 照明",
        description=(
            "Lumina has made LED lighting in Guzhen, China's lighting capital, since 2008: panels, "
            "strips, smart bulbs and solar garden lights, with a five-year warranty."
        ),
        zh_description="露明照明自 2008 年起在中国灯饰之都古镇生产 LED 照明产品：面板灯、灯带、"
        "智能灯泡和太阳能庭院灯，质保五年。",
        country="CN",
        contact_name="Wang Jun",
        contact_email="export@lumina-lighting.example",
        contact_phone="+86 760 2233 4455",
        website="https://lumina-lighting.example",
        hall="Hall A: Electronics & Lighting",
        number="A-102",
        tier="standard",
        products=(
            P(
                "LED panel light 600x600",
                "LED平板灯 600x600",
                "40 W flicker-free ceiling panel for offices, 4000 K, 120 lumens per watt.",
                "40 瓦无频闪办公室吸顶平板灯，4000K 色温，光效每瓦 120 流明。",
                "Lighting",
                850,
                1200,
                "USD",
                200,
                ("led", "panel", "office"),
            ),
            P(
                "Solar garden light",
                "太阳能庭院灯",
                "Stake light that charges by day and lights up at dusk; IP65 weatherproof.",
                "白天充电、黄昏自动亮灯的插地灯，IP65 防水。",
                "Lighting",
                320,
                480,
                "USD",
                1000,
                ("solar", "garden", "outdoor"),
            ),
            P(
                "Smart RGB bulb E27",
                "智能彩光灯泡 E27",
                "Wi-Fi bulb with 16 million colours and tunable white, controlled from a phone.",
                "Wi-Fi 智能灯泡，1600 万色及可调白光，手机控制。",
                "Lighting",
                390,
                520,
                "USD",
                1000,
                ("smart bulb", "rgb", "smart home"),
            ),
            P(
                "LED strip 5 m",
                "五米LED灯带",
                "Flexible warm-white strip, cuttable every 5 cm, with a 12 V adapter.",
                "柔性暖白灯带，每 5 厘米可裁剪，附 12 伏电源适配器。",
                "Lighting",
                450,
                600,
                "USD",
                500,
                ("led", "strip"),
            ),
        ),
    ),
    DemoBooth(
        name="Nordlicht Design",
        zh_name="北光设计",
        tagline="Designer lamps from Hamburg",
        zh_tagline="来自汉堡的设计师灯具",
        description=(
            "A small Hamburg studio designing pendant, desk and floor lamps in brass, oak and linen, "
            "produced in Germany in short runs for shops and hotels."
        ),
        zh_description="汉堡的小型设计工作室，以黄铜、橡木和亚麻设计吊灯、台灯和落地灯，"
        "在德国小批量生产，供应商店与酒店。",
        country="DE",
        contact_name="Jonas Berger",
        contact_email="hello@nordlicht.example",
        contact_phone="+49 40 555 0199",
        website="https://nordlicht.example",
        hall="Hall A: Electronics & Lighting",
        number="A-110",
        tier="platinum",
        products=(
            P(
                "Brass pendant lamp",
                "黄铜吊灯",
                "Hand-spun brass shade on a textile cable, for dining tables and counters.",
                "手工旋压黄铜灯罩配织物电线，适用于餐桌与吧台。",
                "Lighting",
                18900,
                24900,
                "EUR",
                10,
                ("pendant", "brass", "design"),
            ),
            P(
                "Oak desk lamp",
                "橡木台灯",
                "Adjustable arm in solid oak with a dimmable LED head.",
                "实心橡木可调节灯臂，配可调光 LED 灯头。",
                "Lighting",
                12900,
                14900,
                "EUR",
                10,
                ("desk lamp", "oak", "design"),
            ),
            P(
                "Linen floor lamp",
                "亚麻落地灯",
                "Tall lamp with a natural linen shade and a steel tripod.",
                "天然亚麻灯罩配钢制三脚架的高落地灯。",
                "Lighting",
                21900,
                25900,
                "EUR",
                5,
                ("floor lamp", "linen", "design"),
            ),
            P(
                "Wall sconce",
                "壁灯",
                "Compact brass wall light, plug-in or wired, for hotel rooms and hallways.",
                "小巧黄铜壁灯，插电或硬线安装，适合酒店客房与走廊。",
                "Lighting",
                8900,
                9900,
                "EUR",
                20,
                ("wall light", "brass", "hotel"),
            ),
        ),
    ),
    DemoBooth(
        name="Hangzhou Oakline Furniture",
        zh_name="杭州橡线家具",
        tagline="Solid-wood furniture for homes and offices",
        zh_tagline="家居与办公实木家具",
        description=(
            "Oakline builds solid oak and walnut furniture in Hangzhou for importers in Europe and "
            "North America, with FSC-certified timber and flat-pack shipping."
        ),
        zh_description="橡线家具在杭州为欧洲和北美进口商生产实心橡木与胡桃木家具，"
        "采用 FSC 认证木材，支持平板包装运输。",
        country="CN",
        contact_name="Zhao Min",
        contact_email="trade@oakline.example",
        contact_phone="+86 571 8765 4321",
        website="https://oakline.example",
        hall="Hall B: Home & Garden",
        number="B-201",
        tier="premium",
        products=(
            P(
                "Solid oak dining table",
                "实心橡木餐桌",
                "Six-seat table in FSC oak with an oiled finish, 180 x 90 cm.",
                "FSC 认证橡木六人餐桌，木蜡油饰面，尺寸 180 x 90 厘米。",
                "Furniture",
                32000,
                41000,
                "USD",
                20,
                ("table", "oak", "dining"),
            ),
            P(
                "Ergonomic office chair",
                "人体工学办公椅",
                "Mesh back, adjustable lumbar support and 4D armrests; BIFMA tested.",
                "网布靠背，可调腰托与 4D 扶手，通过 BIFMA 测试。",
                "Furniture",
                6500,
                9800,
                "USD",
                50,
                ("chair", "office", "ergonomic"),
            ),
            P(
                "Walnut bookshelf",
                "胡桃木书架",
                "Five-shelf bookcase in black walnut veneer, flat-packed.",
                "五层黑胡桃木饰面书架，平板包装。",
                "Furniture",
                14500,
                17500,
                "USD",
                30,
                ("bookshelf", "walnut"),
            ),
            P(
                "Bedside table with drawer",
                "带抽屉床头柜",
                "Compact oak nightstand with a soft-close drawer.",
                "小巧橡木床头柜，配缓冲抽屉。",
                "Furniture",
                4200,
                5600,
                "USD",
                50,
                ("nightstand", "bedroom", "oak"),
            ),
        ),
    ),
    DemoBooth(
        name="Casa Cucina",
        zh_name="卡萨厨房",
        tagline="Italian cookware since 1962",
        zh_tagline="始于 1962 年的意大利厨具",
        description=(
            "A family company near Brescia making stainless steel and cast iron cookware, knives and "
            "stovetop espresso makers, sold through kitchen shops worldwide."
        ),
        zh_description="位于布雷西亚附近的家族企业，生产不锈钢与铸铁炊具、刀具和炉灶式意式咖啡壶，"
        "通过全球厨具店销售。",
        country="IT",
        contact_name="Giulia Rossi",
        contact_email="export@casacucina.example",
        contact_phone="+39 030 123 4567",
        website="https://casacucina.example",
        hall="Hall B: Home & Garden",
        number="B-210",
        tier="standard",
        products=(
            P(
                "Stainless steel cookware set",
                "不锈钢炊具套装",
                "Ten-piece tri-ply set for every hob, induction included; oven safe to 260 °C.",
                "十件套三层复合不锈钢锅具，适用于包括电磁炉在内的所有灶具，可进烤箱（260°C）。",
                "Kitchenware",
                15900,
                19900,
                "EUR",
                24,
                ("cookware", "stainless steel", "induction"),
            ),
            P(
                "Chef's knife 20 cm",
                "20厘米主厨刀",
                "Forged stainless steel blade with an olive-wood handle.",
                "锻造不锈钢刀身，配橄榄木刀柄。",
                "Kitchenware",
                4900,
                5900,
                "EUR",
                50,
                ("knife", "chef"),
            ),
            P(
                "Cast iron skillet",
                "铸铁煎锅",
                "Pre-seasoned 28 cm skillet that goes from hob to oven to table.",
                "预开锅 28 厘米铸铁煎锅，可从灶台直接进烤箱再上餐桌。",
                "Kitchenware",
                3500,
                4200,
                "EUR",
                48,
                ("skillet", "cast iron"),
            ),
            P(
                "Stovetop espresso maker",
                "炉灶式意式咖啡壶",
                "Six-cup aluminium moka pot with a heat-proof handle.",
                "六杯份铝制摩卡壶，配隔热手柄。",
                "Kitchenware",
                2200,
                2800,
                "EUR",
                60,
                ("coffee", "espresso", "moka"),
            ),
            P(
                "Bamboo cutting board",
                "竹制砧板",
                "Three-layer bamboo board with a juice groove, 40 x 30 cm.",
                "三层竹制砧板，带导流槽，尺寸 40 x 30 厘米。",
                "Kitchenware",
                900,
                1300,
                "EUR",
                100,
                ("cutting board", "bamboo"),
            ),
        ),
    ),
    DemoBooth(
        name="Anatolia Home Textiles",
        zh_name="安纳托利亚家纺",
        tagline="Turkish cotton from Denizli",
        zh_tagline="来自代尼兹利的土耳其棉",
        description=(
            "Towels, bathrobes and bedding woven in Denizli from long-staple Turkish cotton, "
            "OEKO-TEX certified, private label available."
        ),
        zh_description="在代尼兹利以长绒土耳其棉织造的毛巾、浴袍和床品，通过 OEKO-TEX 认证，可贴牌生产。",
        country="TR",
        contact_name="Elif Yılmaz",
        contact_email="sales@anatolia-textiles.example",
        contact_phone="+90 258 555 0144",
        website="https://anatolia-textiles.example",
        hall="Hall C: Textiles",
        number="C-301",
        tier="standard",
        products=(
            P(
                "Turkish cotton bath towel",
                "土耳其棉浴巾",
                "600 g/m² long-staple cotton towel, 70 x 140 cm, in twelve colours.",
                "600 克每平方米长绒棉浴巾，70 x 140 厘米，十二种颜色可选。",
                "Textiles",
                650,
                900,
                "USD",
                300,
                ("towel", "cotton", "bath"),
            ),
            P(
                "Waffle bathrobe",
                "华夫格浴袍",
                "Lightweight waffle-weave robe for hotels and spas, sizes S to XXL.",
                "轻薄华夫格浴袍，适用于酒店与水疗，尺码 S 至 XXL。",
                "Textiles",
                1400,
                1900,
                "USD",
                200,
                ("bathrobe", "hotel", "cotton"),
            ),
            P(
                "Linen bedding set",
                "亚麻床品套装",
                "Stone-washed linen duvet cover and two pillowcases, queen size.",
                "石洗亚麻被套及两只枕套，大号双人床尺寸。",
                "Textiles",
                5200,
                6800,
                "USD",
                100,
                ("bedding", "linen"),
            ),
            P(
                "Cotton throw blanket",
                "棉质盖毯",
                "Jacquard-woven throw with fringes, 130 x 170 cm.",
                "提花织造流苏盖毯，130 x 170 厘米。",
                "Textiles",
                1800,
                2400,
                "USD",
                150,
                ("blanket", "throw", "cotton"),
            ),
        ),
    ),
    DemoBooth(
        name="Suzhou Silk Road Textiles",
        zh_name="苏州丝路纺织",
        tagline="Mulberry silk, woven and embroidered in Suzhou",
        zh_tagline="苏州织造与刺绣的桑蚕丝",
        description=(
            "Silk scarves, pillowcases and fabric by the metre from our mill in Suzhou, with hand "
            "embroidery in the Su style."
        ),
        zh_description="苏州自有丝绸厂出品的真丝围巾、枕套和按米销售的面料，并提供苏绣手工刺绣。",
        country="CN",
        contact_name="Liu Fang",
        contact_email="info@silkroad-suzhou.example",
        contact_phone="+86 512 6543 2100",
        website="https://silkroad-suzhou.example",
        hall="Hall C: Textiles",
        number="C-310",
        tier="premium",
        products=(
            P(
                "Mulberry silk scarf",
                "桑蚕丝围巾",
                "Hand-rolled 16 momme silk twill scarf, 90 x 90 cm, printed to order.",
                "手工卷边 16 姆米真丝斜纹围巾，90 x 90 厘米，可定制印花。",
                "Textiles",
                1600,
                2600,
                "USD",
                100,
                ("silk", "scarf", "accessories"),
            ),
            P(
                "Silk pillowcase",
                "真丝枕套",
                "22 momme mulberry silk pillowcase with a hidden zip.",
                "22 姆米桑蚕丝枕套，隐形拉链。",
                "Textiles",
                1500,
                2000,
                "USD",
                100,
                ("silk", "pillowcase", "bedding"),
            ),
            P(
                "Silk fabric by the metre",
                "按米销售真丝面料",
                "Crepe de chine and charmeuse in 60 colours, 114 cm wide.",
                "双绉与素绉缎，60 种颜色，幅宽 114 厘米。",
                "Textiles",
                1800,
                3200,
                "USD",
                50,
                ("silk", "fabric"),
            ),
            P(
                "Embroidered cushion cover",
                "刺绣靠垫套",
                "Su embroidery of peonies on silk, 45 x 45 cm.",
                "真丝面料苏绣牡丹图案靠垫套，45 x 45 厘米。",
                "Textiles",
                3800,
                5200,
                "USD",
                30,
                ("embroidery", "cushion", "silk"),
            ),
        ),
    ),
)


async def seed_floor(session: AsyncSession, expo: Expo, organizer: User, exhibitor: User) -> DemoFloor:
    """Create what is missing of the demo floor on ``expo``, as ``organizer``; ``exhibitor`` owns
    the first booth (Brightwave). Returns the rows, found or created."""
    halls = {spec.name: await _hall(session, expo, spec, organizer) for spec in HALLS}
    categories: dict[str, Category] = {}
    for category in CATEGORIES:
        parent = categories[category.parent] if category.parent is not None else None
        categories[category.name] = await _category(session, expo, category, parent, organizer)
    booths: list[Booth] = []
    for spec in BOOTHS:
        booth = await _booth(session, expo, spec, halls[spec.hall], organizer)
        for product in spec.products:
            await _product(session, booth, product, categories[product.category], organizer)
        booths.append(booth)
    exhibitor_booth = booths[BOOTHS.index(BRIGHTWAVE)]
    await _owner(session, exhibitor_booth, exhibitor, organizer)
    return DemoFloor(tuple(halls.values()), tuple(categories.values()), tuple(booths), exhibitor_booth)


async def draw_pictures(session: AsyncSession, settings: Settings, floor: DemoFloor, organizer: User) -> int:
    """Draw the logo, banner and product pictures the demo booths lack (see
    :mod:`booths.demo_pictures`); returns how many were drawn (none on a second run)."""
    drawn = 0
    for booth, spec in zip(floor.booths, BOOTHS, strict=True):
        names = [p.name for p in spec.products]
        drawn += await draw_booth_pictures(session, settings, booth, spec.tagline, names, organizer)
    return drawn


def _zh(**fields: str) -> dict[str, TextFields]:
    return {ZH: TextFields(**fields)}


async def _hall(session: AsyncSession, expo: Expo, spec: DemoHall, organizer: User) -> Hall:
    query = select(Hall).where(Hall.expo_id == expo.id, Hall.name == spec.name)
    found = (await session.exec(query)).first()
    if found is not None:
        return found
    fields = HallFields(
        name=spec.name,
        description=spec.description,
        translations=_zh(name=spec.zh_name, description=spec.zh_description),
        position=HALLS.index(spec),
    )
    return await save_hall(session, expo, fields, organizer)


async def _category(
    session: AsyncSession, expo: Expo, spec: DemoCategory, parent: Category | None, organizer: User
) -> Category:
    parent_id = parent.id if parent is not None else None
    query = select(Category).where(
        Category.expo_id == expo.id, Category.name == spec.name, Category.parent_id == parent_id
    )
    found = (await session.exec(query)).first()
    if found is not None:
        return found
    fields = CategoryFields(
        name=spec.name,
        parent_id=parent_id,
        translations=_zh(name=spec.zh_name),
        position=CATEGORIES.index(spec),
    )
    return await save_category(session, expo, fields, organizer)


async def _booth(session: AsyncSession, expo: Expo, spec: DemoBooth, hall: Hall, organizer: User) -> Booth:
    # Booth names are unique within an expo (a database constraint), so the name finds it.
    query = select(Booth).where(Booth.expo_id == expo.id, Booth.name == spec.name)
    found = (await session.exec(query)).first()
    if found is not None:
        return found
    fields = BoothFields(
        name=spec.name,
        tagline=spec.tagline,
        description=spec.description,
        translations=_zh(name=spec.zh_name, tagline=spec.zh_tagline, description=spec.zh_description),
        country=spec.country,
        contact_name=spec.contact_name,
        contact_email=spec.contact_email,
        contact_phone=spec.contact_phone,
        website=spec.website,
    )
    # An organizer's booth is approved at once, and placed in the same transaction.
    placement = Placement(hall_id=hall.id, number=spec.number, tier=spec.tier)
    return await create_booth(session, expo, fields, organizer, placement)


async def _product(
    session: AsyncSession, booth: Booth, spec: DemoProduct, category: Category, organizer: User
) -> Product:
    query = select(Product).where(Product.booth_id == booth.id, Product.name == spec.name)
    found = (await session.exec(query)).first()
    if found is not None:
        return found
    fields = ProductFields(
        name=spec.name,
        description=spec.description,
        translations=_zh(name=spec.zh_name, description=spec.zh_description),
        category_id=category.id,
        price_min=spec.price_min,
        price_max=spec.price_max,
        currency=spec.currency,
        moq=spec.moq,
        tags=list(spec.tags),
    )
    return await create_product(session, booth, fields, organizer)


async def _owner(session: AsyncSession, booth: Booth, exhibitor: User, organizer: User) -> None:
    """Make ``exhibitor`` an owner of ``booth`` unless they are on its staff already (in any role:
    seeding never demotes or promotes someone an owner has since changed)."""
    assert booth.id is not None
    if await booth_role(session, booth.id, exhibitor) is None:
        await add_staff(session, booth, exhibitor.email, BoothRole.OWNER, organizer)
