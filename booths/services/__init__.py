"""Expo floor rules: halls and the category tree, booths with their staff, and products.

Every writing function validates first, then changes rows, the search index and the audit log in
one transaction, and commits: a failure leaves nothing half-written. Each asks the platform's
rule (:mod:`expo.permissions`) through :mod:`booths.services.access`, so pages and the API apply
the same rules:

* the expo's organizers manage halls and categories, create, approve, reject and place booths
  (hall, number, tier), and may edit any booth and product;
* an exhibitor applies for a booth (it starts ``pending``, the applicant its owner), and the
  booth's staff (owner or staff) edit its profile and products; only owners manage staff;
* everyone (signed in or not) reads approved booths and their products.
"""

from booths.services.access import (
    booth_role,
    can_see_booth,
    may_edit,
    require_booth_editor,
    require_booth_owner,
    require_in_expo,
    staffs_a_booth,
)
from booths.services.booths import (
    PAGE_SIZE,
    add_staff,
    booths_of,
    clear_booth_image,
    create_booth,
    delete_booth,
    get_booth,
    list_booths,
    list_staff,
    place_booth,
    remove_staff,
    set_booth_media,
    set_booth_status,
    update_booth,
)
from booths.services.fields import (
    MAX_PRICE,
    BoothFields,
    CategoryFields,
    Fields,
    HallFields,
    Link,
    Placement,
    ProductFields,
    TextFields,
    assign,
    check_country,
    check_currency,
    check_translations,
    parse_price,
)
from booths.services.layout import (
    category_use,
    count_booths_in,
    delete_category,
    delete_hall,
    get_category,
    get_hall,
    list_categories,
    list_halls,
    move_category,
    move_hall,
    save_category,
    save_hall,
)
from booths.services.products import (
    check_prices,
    check_product,
    create_product,
    delete_product,
    get_product,
    list_products,
    update_product,
)

__all__ = [
    "MAX_PRICE",
    "PAGE_SIZE",
    "BoothFields",
    "CategoryFields",
    "Fields",
    "HallFields",
    "Link",
    "Placement",
    "ProductFields",
    "TextFields",
    "add_staff",
    "assign",
    "booth_role",
    "booths_of",
    "can_see_booth",
    "category_use",
    "check_country",
    "check_currency",
    "check_prices",
    "check_product",
    "check_translations",
    "clear_booth_image",
    "count_booths_in",
    "create_booth",
    "create_product",
    "delete_booth",
    "delete_category",
    "delete_hall",
    "delete_product",
    "get_booth",
    "get_category",
    "get_hall",
    "get_product",
    "list_booths",
    "list_categories",
    "list_halls",
    "list_products",
    "list_staff",
    "may_edit",
    "move_category",
    "move_hall",
    "parse_price",
    "place_booth",
    "remove_staff",
    "require_booth_editor",
    "require_booth_owner",
    "require_in_expo",
    "save_category",
    "save_hall",
    "set_booth_media",
    "set_booth_status",
    "staffs_a_booth",
    "update_booth",
    "update_product",
]
