from fineract_hub.storage.where import Where


def test_no_filters_give_no_where_clause() -> None:
    where = Where().equals("status", None).add("created_at >= {}", None)

    assert where.clause == ""
    assert where.args == []


def test_filters_are_numbered_placeholders_and_values_stay_out_of_the_sql() -> None:
    where = Where().equals("status", "x'; DROP TABLE t; --").add("created_at >= {}", 5)

    assert where.clause == " WHERE status = $1 AND created_at >= $2"
    assert where.args == ["x'; DROP TABLE t; --", 5]


def test_paging_placeholders_follow_the_filters() -> None:
    page, args = Where().equals("a", 1).page(10, 20)

    assert page == " LIMIT $2 OFFSET $3"
    assert args == [1, 10, 20]


def test_false_is_a_filter_value_not_a_missing_one() -> None:
    assert Where().equals("is_active", False).args == [False]
