Feature: A service account stays inside its organization
  Tenants are fully isolated (DPaaS API reference, Organizations): a request signed with a
  service account's key sees only its own organization's items, and another organization's ids
  get the answer of ids that never existed (ACC-9). Checked with the configured reader key
  ([service_keys.reader]), whose service account may list accounts and users.

  @must @HMAC-14
  Scenario Outline: The reader's signed list of <resource> holds only its organization's items
    Given the admin user is logged in
    When they walk every page of <resource> signed with the reader key
    Then every item belongs to the admin user's organization

    Examples:
      | resource |
      | accounts |
      | users    |

  @must @HMAC-14
  Scenario: The reader never reads another organization's account by its id
    Given the other user is logged in
    And they have created 1 account
    When the reader key signs a read of the account the other user created
    Then the response is a client error with a JSON error body
    And the answer carries no field of the account the other user created
