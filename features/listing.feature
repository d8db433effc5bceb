Feature: Listing and pagination
  Every list endpoint answers {total, page, results} and pages with "page",
  "quantity" (default 20, at most 100) and "order_by" ("-" for descending,
  newest first by default) ("Your First API Call", response format and pagination).

  Background:
    Given the admin user is logged in

  @must @LIST-1
  Scenario Outline: A list page reports the total of all <resource> and the page served
    Given their organization has at least 3 accounts
    When they list <resource> with "page=2&quantity=1"
    Then the response status is 200
    And the response body is a list of <resource>
    And the list is page 2 with at most 1 result
    And the list total is at least <minimum>

    Examples:
      | resource | minimum |
      | accounts | 3       |
      | users    | 1       |

  @must @LIST-2
  Scenario: A list defaults to page 1 with 20 items
    Given their organization has at least 21 accounts
    When they list accounts
    Then the response status is 200
    And the list is page 1 with exactly 20 results

  @must @LIST-2
  Scenario: A list never holds more items than asked for
    Given their organization has at least 8 accounts
    When they list accounts with "quantity=7"
    Then the response status is 200
    And the list is page 1 with exactly 7 results

  @must @LIST-2
  Scenario: A list serves up to 100 items a page and never more
    Given their organization has at least 101 accounts
    When they list accounts with "quantity=100"
    Then the list is page 1 with exactly 100 results
    When they list accounts with "quantity=101"
    Then either the error details name "quantity" or the list has at most 100 results
    When they list accounts with "quantity=1000"
    Then either the error details name "quantity" or the list has at most 100 results

  @must @LIST-3
  Scenario Outline: Walking every page of <resource> yields each item exactly once
    Given their organization has at least 3 accounts
    When they walk every page of <resource> ordered by "created_at", in pages of about a third
    Then every item was seen exactly once and none is missing

    Examples:
      | resource |
      | accounts |
      | users    |

  @must @LIST-4
  Scenario Outline: order_by "<order>" sorts accounts across every page
    Given they have created 3 accounts whose names are not in creation order
    When they walk every page of accounts ordered by "<order>", in pages of about a third
    Then the items seen are sorted by "<order>"

    Examples:
      | order       |
      | created_at  |
      | -created_at |
      | updated_at  |
      | -updated_at |
      | name        |
      | -name       |

  @must @LIST-4
  Scenario Outline: order_by "<order>" sorts users across every page
    When they walk every page of users ordered by "<order>", in pages of about a third
    Then the items seen are sorted by "<order>"

    Examples:
      | order       |
      | created_at  |
      | -created_at |
      | updated_at  |
      | -updated_at |
      | email       |
      | -email      |

  @must @LIST-4
  Scenario: Accounts are listed newest first by default
    Given they have created 2 accounts
    When they list accounts with "quantity=100"
    Then the results are sorted by "-created_at"
    And the accounts they created are listed newest first

  @should @LIST-5
  Scenario Outline: A bad list parameter <query> is a validation error
    When they list <resource> with "<query>"
    Then the response is a "ValidationError" error with status 422
    And the error details name "<parameter>"

    Examples:
      | resource | query                 | parameter |
      | accounts | page=0                | page      |
      | accounts | page=-1               | page      |
      | accounts | page=two              | page      |
      | accounts | quantity=0            | quantity  |
      | accounts | quantity=101          | quantity  |
      | accounts | quantity=many         | quantity  |
      | accounts | order_by=no_such_field | order_by  |
      | users    | page=0                | page      |
      | users    | quantity=0            | quantity  |
      | users    | quantity=101          | quantity  |
      | users    | order_by=password     | order_by  |

  @should @LIST-6
  Scenario: A page past the end is empty and still tells the total
    Given their organization has at least 2 accounts
    When they list accounts one page past the end in pages of 100
    Then the response status is 200
    And the list has no results and its total is at least 2
