"""Promotions: coupons (templates, issued coupons, applying them to a purchase), campaigns,
tier benefits and lifecycle offers. The rules are in docs/promotions.md."""
