Feature: Deleting an account
  DELETE /accounts/{id} is a soft delete: the account leaves the default list but
  stays, and an administrator sees it with include_deleted=true (DPaaS API
  reference, API conventions). Deleted accounts stay in the target for good, so
  ACCOUNTS is checked against a disposable instance.

  Background:
    Given the admin user is logged in

  @must @ACC-14
  Scenario: A deleted account leaves the list, whose total drops by one
    Given they have created 1 account
    And they have counted their organization's accounts
    When they delete the account they created
    Then the response status is a success
    And the account they created is not listed and the total has dropped by one

  @should @ACC-14
  Scenario: A delete answers 204 No Content
    Given they have created 1 account
    When they delete the account they created
    Then the response status is 204

  @should @ACC-15
  Scenario Outline: After a delete, <method> of its id is 404
    Given they have created 1 account
    And they have deleted the account they created
    When they <method> the account they created
    Then the response is 404 with a JSON error body

    Examples:
      | method |
      | GET    |
      | PUT    |
      | PATCH  |

  @must @ACC-14 @ERR-7
  Scenario Outline: After a delete, <method> of its id never fails with a server error
    Given they have created 1 account
    And they have deleted the account they created
    When they <method> the account they created
    Then the response is a success or a client error with a JSON error body, never a server error

    Examples:
      | method |
      | GET    |
      | PUT    |
      | PATCH  |
      | DELETE |

  @must @ACC-16
  Scenario: An administrator lists deleted accounts too with include_deleted=true
    Given they have created 2 accounts
    And they have deleted the account they created
    And they have counted their organization's accounts
    When they walk the accounts with "include_deleted=true", every page ordered by "created_at" in pages of about a third
    Then every item was seen exactly once and none is missing
    And the items seen are sorted by "created_at"
    And the total counts the account they deleted

  @should @ACC-16
  Scenario: A deleted account carries deleted_at, in UTC written with Z
    Given they have created 1 account
    And they have deleted the account they created
    When they walk the accounts with "include_deleted=true", every page ordered by "created_at" in pages of about a third
    Then the account they deleted carries "deleted_at" in UTC written with Z

  @must @ACC-17
  Scenario: include_deleted=true from a user who is no administrator reveals no deleted account
    Given they have created 1 account
    And they have deleted the account they created
    And the limited user is logged in
    When they list every page of accounts with "include_deleted=true"
    Then the list is refused with a JSON error, or none of its items is the account the admin user deleted
