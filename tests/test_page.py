"""The try-it page's serving, in process (its behaviour in a browser is tests/test_page_browser.py)."""

from __future__ import annotations


async def test_the_page_and_its_files_are_served_from_the_package(client):
    page = await client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "connect-src 'self'" in policy and "http" not in policy
    assert 'src="page/app.js"' in page.text and 'href="page/page.css"' in page.text
    assert "http" not in page.text.split("<body>")[0]  # nothing in the head loads from elsewhere
    for name, kind in (("app.js", "javascript"), ("api.js", "javascript"), ("page.css", "text/css")):
        asset = await client.get(f"/page/{name}")
        assert asset.status_code == 200 and kind in asset.headers["content-type"]
    assert "/" not in (await client.get("/openapi.json")).json()["paths"]  # not part of the API


async def test_ui_false_serves_no_page(make_client):
    async with make_client(ui=False) as client:
        assert (await client.get("/")).status_code == 404
        assert (await client.get("/page/app.js")).status_code == 404
        assert (await client.get("/health")).status_code == 200


async def test_with_api_keys_the_page_opens_but_the_api_it_calls_needs_a_key(make_client, photos):
    async with make_client(api_keys="k1") as client:
        assert (await client.get("/")).status_code == 200
        assert (await client.get("/page/app.js")).status_code == 200
        refused = await client.post("/v1/describe", files={"images": ("cat.jpg", photos["cat"])})
        assert refused.status_code == 401
        allowed = await client.post(
            "/v1/describe", files={"images": ("cat.jpg", photos["cat"])}, headers={"Authorization": "Bearer k1"}
        )
        assert allowed.status_code == 200
